#include "reference.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace lsio::compute::testing {

namespace {

Result<DataType> DtypeFromDescr(const std::string& descr) {
  static const std::pair<const char*, DataType> kTable[] = {
      {"|b1", DataType::kBool},     {"|i1", DataType::kInt8},     {"<i2", DataType::kInt16},
      {"<i4", DataType::kInt32},    {"<i8", DataType::kInt64},    {"|u1", DataType::kUInt8},
      {"<u2", DataType::kUInt16},   {"<u4", DataType::kUInt32},   {"<u8", DataType::kUInt64},
      {"<f2", DataType::kFloat16},  {"<f4", DataType::kFloat32},  {"<f8", DataType::kFloat64}};
  for (const auto& [name, t] : kTable) {
    if (descr == name) return t;
  }
  return InvalidArgumentError("unsupported npy descr " + descr);
}

// The text of a scalar value ('<f4', False) in the npy header dict.
std::string HeaderField(const std::string& header, const std::string& key) {
  const size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) return "";
  size_t i = header.find(':', k) + 1;
  while (i < header.size() && header[i] == ' ') ++i;
  const size_t j = header.find_first_of(",}", i);
  return header.substr(i, j - i);
}

}  // namespace

Result<NpyArray> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    return CorruptDataError(path + ": not an npy file");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    offset = 10;
  } else {
    uint32_t len;
    std::memcpy(&len, bytes.data() + 8, 4);
    header_len = len;
    offset = 12;
  }
  const std::string header = bytes.substr(offset, header_len);
  std::string descr = HeaderField(header, "descr");
  descr = descr.substr(1, descr.size() - 2);  // strip quotes
  if (HeaderField(header, "fortran_order") != "False") {
    return NotSupportedError(path + ": Fortran order");
  }
  NpyArray a;
  LSIO_ASSIGN_OR_RETURN(a.dtype, DtypeFromDescr(descr));
  // The shape tuple: "(3, 4)", "(5,)" or "()".
  const size_t open = header.find('(', header.find("'shape'"));
  const size_t close = header.find(')', open);
  std::stringstream ss(header.substr(open + 1, close - open - 1));
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    a.shape.push_back(std::stoll(item));
  }
  const size_t nbytes = static_cast<size_t>(ElementCount(a.shape)) * ByteWidth(a.dtype);
  if (bytes.size() != offset + header_len + nbytes) {
    return CorruptDataError(path + ": data size does not match the header");
  }
  LSIO_ASSIGN_OR_RETURN(a.data, Buffer::Allocate(nbytes));
  if (nbytes) std::memcpy(a.data.mutable_data(), bytes.data() + offset + header_len, nbytes);
  return a;
}

std::string ReferenceDir() {
  const char* dir = std::getenv("LSIO_BINARY_DIR");
  return dir ? std::string(dir) + "/compute_reference" : std::string();
}

const nlohmann::json& Manifest() {
  static const nlohmann::json* manifest = [] {
    auto* j = new nlohmann::json();
    std::ifstream in(ReferenceDir() + "/manifest.json");
    if (in) *j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    return j;
  }();
  EXPECT_TRUE(manifest->is_object())
      << "no reference data in " << ReferenceDir()
      << " (run through ctest, whose fixture compute_make_reference writes it)";
  return *manifest;
}

NpyArray LoadArray(const std::string& name) {
  auto a = ReadNpy(ReferenceDir() + "/" + name);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  return a.ok() ? std::move(a).value() : NpyArray{};
}

double F(const nlohmann::json& j) { return std::strtod(j.get<std::string>().c_str(), nullptr); }

__int128 I128(const nlohmann::json& j) {
  const std::string s = j.get<std::string>();
  const bool neg = !s.empty() && s[0] == '-';
  unsigned __int128 v = 0;
  for (size_t i = neg ? 1 : 0; i < s.size(); ++i) v = v * 10 + static_cast<unsigned>(s[i] - '0');
  return neg ? -static_cast<__int128>(v) : static_cast<__int128>(v);
}

MissingValues ParseMissing(const nlohmann::json& j) {
  MissingValues m;
  if (j.is_null()) return m;
  auto one = [](const nlohmann::json& v) {
    const std::string kind = v["kind"].get<std::string>();
    const std::string text = v["value"].get<std::string>();
    if (kind == "signed") return MissingValue::Signed(std::stoll(text));
    if (kind == "unsigned") return MissingValue::Unsigned(std::stoull(text));
    return MissingValue::Float(std::strtod(text.c_str(), nullptr));
  };
  if (j.contains("fill_value")) m.fill_value = one(j["fill_value"]);
  if (j.contains("missing_value")) m.missing_value = one(j["missing_value"]);
  return m;
}

void ExpectSame(double actual, double expected, const char* what) {
  if (std::isnan(expected)) {
    EXPECT_TRUE(std::isnan(actual)) << what << ": expected NaN, got " << actual;
  } else {
    EXPECT_EQ(actual, expected) << what;
  }
}

void ExpectClose(double actual, double expected, double tol, double scale, const char* what) {
  if (std::isnan(expected) || std::isinf(expected)) {
    ExpectSame(actual, expected, what);
    return;
  }
  EXPECT_LE(std::fabs(actual - expected), tol * scale)
      << what << ": got " << actual << ", numpy " << expected << " (scale " << scale << ")";
}

void ExpectStd(double actual, double expected, double mean_abs, const char* what) {
  if (std::isnan(expected) || std::isinf(expected)) {
    ExpectSame(actual, expected, what);
  } else if (expected == 0) {
    EXPECT_LE(actual, 1e-14 * mean_abs) << what << ": constant data, got " << actual;
  } else {
    EXPECT_LE(std::fabs(actual - expected), 1e-9 * expected)
        << what << ": got " << actual << ", numpy " << expected;
  }
}

void KernelTargetTest::SetUp() {
  internal::ForceKernelTarget(GetParam());
  RecordProperty("kernel_target", internal::KernelTargetName());
}

void KernelTargetTest::TearDown() { internal::ForceKernelTarget(0); }

std::string KernelTargetParamName(const ::testing::TestParamInfo<int64_t>& info) {
  internal::ForceKernelTarget(info.param);
  std::string name = internal::KernelTargetName();
  internal::ForceKernelTarget(0);
  return name;
}

}  // namespace lsio::compute::testing
