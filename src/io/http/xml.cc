#include "xml.h"

#include <expat.h>

namespace lsio::io::http {

namespace {

constexpr int kMaxDepth = 64;
constexpr size_t kMaxDocument = size_t{64} << 20;

struct Builder {
  XML_Parser parser = nullptr;
  std::vector<XmlElement*> stack;
  XmlElement root;
  bool have_root = false;
  std::string error;
};

void OnStart(void* user, const XML_Char* name, const XML_Char** /*attrs*/) {
  auto* b = static_cast<Builder*>(user);
  if (b->stack.size() >= kMaxDepth) {
    b->error = "nested deeper than 64 elements";
    XML_StopParser(b->parser, XML_FALSE);
    return;
  }
  std::string_view n(name);
  if (size_t sep = n.rfind('\x01'); sep != std::string_view::npos) n.remove_prefix(sep + 1);
  XmlElement* e;
  if (b->stack.empty()) {
    e = &b->root;
    b->have_root = true;
  } else {
    e = &b->stack.back()->children.emplace_back();
  }
  e->name.assign(n);
  b->stack.push_back(e);
}

void OnEnd(void* user, const XML_Char* /*name*/) {
  auto* b = static_cast<Builder*>(user);
  if (!b->stack.empty()) b->stack.pop_back();
}

void OnText(void* user, const XML_Char* s, int len) {
  auto* b = static_cast<Builder*>(user);
  if (!b->stack.empty()) b->stack.back()->text.append(s, static_cast<size_t>(len));
}

// A DOCTYPE with entity declarations is refused outright.
void OnEntityDecl(void* user, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                  const XML_Char*, const XML_Char*, const XML_Char*) {
  auto* b = static_cast<Builder*>(user);
  b->error = "entity declarations are not accepted";
  XML_StopParser(b->parser, XML_FALSE);
}

}  // namespace

const XmlElement* XmlElement::Child(std::string_view n) const {
  for (const XmlElement& c : children) {
    if (c.name == n) return &c;
  }
  return nullptr;
}

std::string XmlElement::ChildText(std::string_view n) const {
  const XmlElement* c = Child(n);
  return c ? c->text : std::string();
}

Result<XmlElement> ParseXml(std::string_view document, std::string_view what) {
  if (document.size() > kMaxDocument) {
    return CorruptDataError(std::string(what) + ": XML document larger than 64 MiB");
  }
  Builder b;
  // Namespace processing with '\x01' as the separator, so names are stripped of their URI.
  b.parser = XML_ParserCreateNS(nullptr, '\x01');
  if (b.parser == nullptr) return InternalError("cannot create an XML parser");
  XML_SetUserData(b.parser, &b);
  XML_SetElementHandler(b.parser, &OnStart, &OnEnd);
  XML_SetCharacterDataHandler(b.parser, &OnText);
  XML_SetEntityDeclHandler(b.parser, &OnEntityDecl);
  const XML_Status st =
      XML_Parse(b.parser, document.data(), static_cast<int>(document.size()), XML_TRUE);
  std::string error = b.error;
  if (st != XML_STATUS_OK && error.empty()) {
    error = std::string(XML_ErrorString(XML_GetErrorCode(b.parser))) + " at line " +
            std::to_string(XML_GetCurrentLineNumber(b.parser));
  }
  XML_ParserFree(b.parser);
  if (!error.empty()) return CorruptDataError(std::string(what) + ": bad XML: " + error);
  if (!b.have_root) return CorruptDataError(std::string(what) + ": empty XML document");
  return std::move(b.root);
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace lsio::io::http
