#include "lsio/kvstore/aws_config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace lsio::kvstore {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// An AWS-style INI file: [section], key = value, and indented "key = value" lines under a
// "name =" line with no value (a sub-section, e.g. "s3 =\n  endpoint_url = ..."), stored as
// "name.key". '#' and ';' start comment lines.
using IniSection = std::map<std::string, std::string>;
using IniFile = std::map<std::string, IniSection>;

IniFile ParseIni(std::string_view text) {
  IniFile out;
  IniSection* section = nullptr;
  std::string sub;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view raw = text.substr(pos, eol - pos);
    pos = eol + 1;
    const bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      size_t close = line.find(']');
      std::string name(Trim(line.substr(1, close == std::string_view::npos ? line.size() - 1
                                                                           : close - 1)));
      // "[profile   dev]" and "[profile dev]" are the same section.
      if (name.starts_with("profile ")) {
        name = "profile " + std::string(Trim(std::string_view(name).substr(8)));
      }
      section = &out[name];
      sub.clear();
      continue;
    }
    if (section == nullptr) continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string key = Lower(Trim(line.substr(0, eq)));
    std::string value(Trim(line.substr(eq + 1)));
    if (indented && !sub.empty()) {
      (*section)[sub + "." + key] = value;
      continue;
    }
    if (value.empty()) {
      sub = key;
      continue;
    }
    sub.clear();
    (*section)[key] = value;
  }
  return out;
}

// The file's sections, or nullopt if it does not exist.
Result<std::optional<IniFile>> LoadIni(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<IniFile>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return IOError("cannot read AWS settings file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return std::optional<IniFile>(ParseIni(ss.str()));
}

std::optional<std::string> Get(const std::map<std::string, std::string>& m,
                               std::string_view key) {
  auto it = m.find(std::string(key));
  if (it == m.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> NonEmpty(std::optional<std::string> v) {
  if (v && v->empty()) return std::nullopt;
  return v;
}

constexpr std::string_view kAwsOptions[] = {
    "anon",        "key",         "secret",          "token",
    "endpoint_url", "region",     "region_name",     "client_kwargs.region_name",
    "client_kwargs.endpoint_url", "profile", "addressing_style",
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token",
};

}  // namespace

Environment ProcessEnvironment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

bool IsAwsStorageOption(std::string_view name) {
  return std::find(std::begin(kAwsOptions), std::end(kAwsOptions), name) != std::end(kAwsOptions);
}

Result<bool> ParseBoolOption(std::string_view name, std::string_view value) {
  std::string v = Lower(Trim(value));
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off" || v.empty()) return false;
  return InvalidArgumentError("storage option '" + std::string(name) + "': expected true or " +
                              "false, got '" + std::string(value) + "'");
}

Result<AwsConfig> ResolveAwsConfig(const std::map<std::string, std::string>& opts,
                                   const Environment& env) {
  AwsConfig cfg;
  auto opt = [&](std::string_view k) { return NonEmpty(Get(opts, k)); };
  auto envv = [&](std::string_view k) { return NonEmpty(env(k)); };

  // Anonymous access.
  if (auto a = Get(opts, "anon")) {
    LSIO_ASSIGN_OR_RETURN(cfg.anonymous, ParseBoolOption("anon", *a));
  } else if (auto a = envv("AWS_NO_SIGN_REQUEST")) {
    LSIO_ASSIGN_OR_RETURN(cfg.anonymous, ParseBoolOption("AWS_NO_SIGN_REQUEST", *a));
  }

  // Addressing style.
  if (auto a = opt("addressing_style")) {
    std::string v = Lower(*a);
    if (v == "path") {
      cfg.addressing = S3Addressing::kPath;
    } else if (v == "virtual") {
      cfg.addressing = S3Addressing::kVirtual;
    } else if (v != "auto") {
      return InvalidArgumentError("storage option 'addressing_style': expected path, virtual "
                                  "or auto, got '" + *a + "'");
    }
  }

  // The profile and its files (read only when something needs them).
  const std::optional<std::string> explicit_profile = opt("profile");
  std::string profile = explicit_profile ? *explicit_profile
                                         : envv("AWS_PROFILE").value_or(
                                               envv("AWS_DEFAULT_PROFILE").value_or("default"));
  const bool profile_named = explicit_profile || envv("AWS_PROFILE") || envv("AWS_DEFAULT_PROFILE");
  const std::string home = envv("HOME").value_or("");
  const std::string creds_path =
      envv("AWS_SHARED_CREDENTIALS_FILE").value_or(home.empty() ? "" : home + "/.aws/credentials");
  const std::string config_path =
      envv("AWS_CONFIG_FILE").value_or(home.empty() ? "" : home + "/.aws/config");
  IniSection creds_section, config_section;
  bool profile_found = false;
  if (!creds_path.empty()) {
    LSIO_ASSIGN_OR_RETURN(auto file, LoadIni(creds_path));
    if (file) {
      if (auto it = file->find(profile); it != file->end()) {
        creds_section = it->second;
        profile_found = true;
      }
    }
  }
  if (!config_path.empty()) {
    LSIO_ASSIGN_OR_RETURN(auto file, LoadIni(config_path));
    if (file) {
      auto it = file->find(profile == "default" ? "default" : "profile " + profile);
      if (it == file->end() && profile == "default") it = file->find("profile default");
      if (it != file->end()) {
        config_section = it->second;
        profile_found = true;
      }
    }
  }
  const bool keys_elsewhere = opt("key") || opt("aws_access_key_id") ||
                              (!explicit_profile && envv("AWS_ACCESS_KEY_ID"));
  if (profile_named && !profile_found && !keys_elsewhere && !cfg.anonymous) {
    return NotFoundError("AWS profile '" + profile + "' is not in " +
                         (creds_path.empty() ? "(no credentials file)" : creds_path) + " nor " +
                         (config_path.empty() ? "(no config file)" : config_path));
  }

  // Credentials.
  auto key = opt("key") ? opt("key") : opt("aws_access_key_id");
  auto secret = opt("secret") ? opt("secret") : opt("aws_secret_access_key");
  auto token = opt("token") ? opt("token") : opt("aws_session_token");
  if (key || secret) {
    if (!key || !secret) {
      return InvalidArgumentError("storage options: 'key' and 'secret' must be given together");
    }
    cfg.credentials = {*key, *secret, token.value_or("")};
    cfg.credentials_source = "storage options";
  } else if (!explicit_profile && envv("AWS_ACCESS_KEY_ID")) {
    if (!envv("AWS_SECRET_ACCESS_KEY")) {
      return InvalidArgumentError(
          "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    }
    cfg.credentials = {*envv("AWS_ACCESS_KEY_ID"), *envv("AWS_SECRET_ACCESS_KEY"),
                       envv("AWS_SESSION_TOKEN").value_or("")};
    cfg.credentials_source = "environment";
  } else {
    for (auto [section, path] : {std::pair{&creds_section, &creds_path},
                                 std::pair{&config_section, &config_path}}) {
      auto k = NonEmpty(Get(*section, "aws_access_key_id"));
      auto s = NonEmpty(Get(*section, "aws_secret_access_key"));
      if (!k && !s) continue;
      if (!k || !s) {
        return InvalidArgumentError("AWS profile '" + profile + "' in " + *path +
                                    " has only one of aws_access_key_id and "
                                    "aws_secret_access_key");
      }
      cfg.credentials = {*k, *s, NonEmpty(Get(*section, "aws_session_token")).value_or("")};
      cfg.credentials_source = "profile '" + profile + "' in " + *path;
      break;
    }
    if (cfg.credentials.empty() && !cfg.anonymous) {
      for (const char* unsupported :
           {"role_arn", "credential_process", "sso_session", "sso_start_url",
            "web_identity_token_file", "credential_source"}) {
        if (config_section.count(unsupported) || creds_section.count(unsupported)) {
          return NotSupportedError(
              "AWS profile '" + profile + "' gets its credentials through " + unsupported +
              ", which lsio does not support; export AWS_ACCESS_KEY_ID, "
              "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (e.g. from `aws configure "
              "export-credentials --format env`), or use anon=true for public data");
        }
      }
    }
  }
  if (cfg.credentials.empty()) cfg.credentials_source = "none: anonymous requests";
  if (cfg.anonymous) {
    cfg.credentials = {};
    cfg.credentials_source = "anonymous (requested)";
  }

  // Region.
  if (auto r = opt("region")) {
    cfg.region = *r;
  } else if (auto r2 = opt("region_name")) {
    cfg.region = *r2;
  } else if (auto r3 = opt("client_kwargs.region_name")) {
    cfg.region = *r3;
  } else if (auto e = envv("AWS_REGION")) {
    cfg.region = *e;
  } else if (auto e2 = envv("AWS_DEFAULT_REGION")) {
    cfg.region = *e2;
  } else if (auto c = NonEmpty(Get(config_section, "region"))) {
    cfg.region = *c;
  } else {
    cfg.region = "us-east-1";
  }
  for (char c : cfg.region) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return InvalidArgumentError("bad AWS region '" + cfg.region + "'");
    }
  }

  // Endpoint.
  bool ignore_configured = false;
  if (auto v = envv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
    LSIO_ASSIGN_OR_RETURN(ignore_configured,
                          ParseBoolOption("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", *v));
  }
  if (auto e = opt("endpoint_url")) {
    cfg.endpoint_url = *e;
  } else if (auto e2 = opt("client_kwargs.endpoint_url")) {
    cfg.endpoint_url = *e2;
  } else if (!ignore_configured) {
    if (auto e3 = envv("AWS_ENDPOINT_URL_S3")) {
      cfg.endpoint_url = *e3;
    } else if (auto e4 = envv("AWS_ENDPOINT_URL")) {
      cfg.endpoint_url = *e4;
    } else if (auto c = NonEmpty(Get(config_section, "s3.endpoint_url"))) {
      cfg.endpoint_url = *c;
    } else if (auto c2 = NonEmpty(Get(config_section, "endpoint_url"))) {
      cfg.endpoint_url = *c2;
    }
  }
  while (cfg.endpoint_url.ends_with('/')) cfg.endpoint_url.pop_back();
  if (!cfg.endpoint_url.empty() && !cfg.endpoint_url.starts_with("http://") &&
      !cfg.endpoint_url.starts_with("https://")) {
    return InvalidArgumentError("S3 endpoint '" + cfg.endpoint_url +
                                "' must start with http:// or https://");
  }
  return cfg;
}

}  // namespace lsio::kvstore
