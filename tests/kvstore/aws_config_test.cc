// AWS settings resolution: the precedence botocore and the AWS CLI document, on files and
// environments made here.

#include "lsio/kvstore/aws_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace lsio::kvstore {
namespace {

namespace fs = std::filesystem;

class AwsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lsio-aws-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / ".aws");
    env_["HOME"] = dir_.string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ / rel) << text;
  }
  Result<AwsConfig> Resolve(std::map<std::string, std::string> opts = {}) {
    auto env = env_;
    return ResolveAwsConfig(opts, [env](std::string_view k) -> std::optional<std::string> {
      auto it = env.find(std::string(k));
      if (it == env.end()) return std::nullopt;
      return it->second;
    });
  }

  fs::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(AwsConfigTest, NothingMeansAnonymousUsEast1OnAws) {
  auto cfg = Resolve();
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  EXPECT_TRUE(cfg->credentials.empty());
  EXPECT_FALSE(cfg->anonymous);
  EXPECT_EQ(cfg->region, "us-east-1");
  EXPECT_EQ(cfg->endpoint_url, "");
  EXPECT_EQ(cfg->credentials_source, "none: anonymous requests");
}

TEST_F(AwsConfigTest, EnvironmentCredentialsRegionEndpoint) {
  env_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  env_["AWS_SESSION_TOKEN"] = "envtoken";
  env_["AWS_DEFAULT_REGION"] = "eu-west-1";
  env_["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9000/";
  auto cfg = Resolve().value();
  EXPECT_EQ(cfg.credentials.access_key_id, "AKIDENV");
  EXPECT_EQ(cfg.credentials.secret_access_key, "envsecret");
  EXPECT_EQ(cfg.credentials.session_token, "envtoken");
  EXPECT_EQ(cfg.region, "eu-west-1");
  EXPECT_EQ(cfg.endpoint_url, "http://127.0.0.1:9000");
  EXPECT_EQ(cfg.credentials_source, "environment");
  env_["AWS_REGION"] = "ap-south-1";  // AWS_REGION beats AWS_DEFAULT_REGION
  env_["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:9001";  // the S3-specific one wins
  cfg = Resolve().value();
  EXPECT_EQ(cfg.region, "ap-south-1");
  EXPECT_EQ(cfg.endpoint_url, "http://127.0.0.1:9001");
  env_["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true";
  EXPECT_EQ(Resolve()->endpoint_url, "");
}

TEST_F(AwsConfigTest, StorageOptionsBeatEverything) {
  env_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  env_["AWS_REGION"] = "eu-west-1";
  auto cfg = Resolve({{"key", "AKIDOPT"},
                      {"secret", "optsecret"},
                      {"token", "opttoken"},
                      {"client_kwargs.region_name", "us-west-2"},
                      {"endpoint_url", "https://minio.example:9000"}})
                 .value();
  EXPECT_EQ(cfg.credentials.access_key_id, "AKIDOPT");
  EXPECT_EQ(cfg.credentials.session_token, "opttoken");
  EXPECT_EQ(cfg.region, "us-west-2");
  EXPECT_EQ(cfg.endpoint_url, "https://minio.example:9000");
  EXPECT_EQ(cfg.credentials_source, "storage options");
  EXPECT_EQ(Resolve({{"region", "sa-east-1"}})->region, "sa-east-1");
  auto half = Resolve({{"key", "AKIDOPT"}});
  EXPECT_EQ(half.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AwsConfigTest, ProfilesFromBothFiles) {
  Write(".aws/credentials",
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = defsecret\n"
        "\n# comment\n[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=devsecret\n"
        "aws_session_token = devtoken\n");
  Write(".aws/config",
        "[default]\nregion = eu-central-1\n[profile dev]\nregion = us-west-1\n"
        "s3 =\n  endpoint_url = http://127.0.0.1:9100\n"
        "[profile cfgonly]\naws_access_key_id = AKIDCFG\naws_secret_access_key = cfgsecret\n"
        "endpoint_url = http://127.0.0.1:9200\n"
        "[profile sso]\nsso_session = corp\nsso_account_id = 1\n");
  auto def = Resolve().value();
  EXPECT_EQ(def.credentials.access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(def.region, "eu-central-1");
  EXPECT_EQ(def.credentials_source, "profile 'default' in " + (dir_ / ".aws/credentials").string());

  env_["AWS_PROFILE"] = "dev";
  auto dev = Resolve().value();
  EXPECT_EQ(dev.credentials.access_key_id, "AKIDDEV");
  EXPECT_EQ(dev.credentials.session_token, "devtoken");
  EXPECT_EQ(dev.region, "us-west-1");
  EXPECT_EQ(dev.endpoint_url, "http://127.0.0.1:9100");

  // The environment's keys beat AWS_PROFILE's, but not a profile named in the options.
  env_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  EXPECT_EQ(Resolve()->credentials.access_key_id, "AKIDENV");
  EXPECT_EQ(Resolve({{"profile", "cfgonly"}})->credentials.access_key_id, "AKIDCFG");
  EXPECT_EQ(Resolve({{"profile", "cfgonly"}})->endpoint_url, "http://127.0.0.1:9200");

  auto missing = Resolve({{"profile", "nope"}});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("'nope'"), std::string::npos);
  auto sso = Resolve({{"profile", "sso"}});
  EXPECT_EQ(sso.status().code(), StatusCode::kNotSupported) << sso.status().ToString();
}

TEST_F(AwsConfigTest, FileLocationsFromEnvironment) {
  Write("creds", "[x]\naws_access_key_id = AKIDX\naws_secret_access_key = xsecret\n");
  Write("conf", "[profile x]\nregion = eu-north-1\n");
  env_["AWS_SHARED_CREDENTIALS_FILE"] = (dir_ / "creds").string();
  env_["AWS_CONFIG_FILE"] = (dir_ / "conf").string();
  env_["AWS_PROFILE"] = "x";
  auto cfg = Resolve().value();
  EXPECT_EQ(cfg.credentials.access_key_id, "AKIDX");
  EXPECT_EQ(cfg.region, "eu-north-1");
}

TEST_F(AwsConfigTest, AnonymousAndAddressing) {
  env_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  env_["AWS_NO_SIGN_REQUEST"] = "YES";
  auto cfg = Resolve().value();
  EXPECT_TRUE(cfg.anonymous);
  EXPECT_TRUE(cfg.credentials.empty());
  EXPECT_FALSE(Resolve({{"anon", "false"}})->anonymous);
  EXPECT_TRUE(Resolve({{"anon", "True"}})->anonymous);
  EXPECT_FALSE(Resolve({{"anon", "maybe"}}).ok());
  EXPECT_EQ(Resolve({{"addressing_style", "virtual"}})->addressing, S3Addressing::kVirtual);
  EXPECT_EQ(Resolve({{"addressing_style", "path"}})->addressing, S3Addressing::kPath);
  EXPECT_FALSE(Resolve({{"addressing_style", "sideways"}}).ok());
  EXPECT_FALSE(Resolve({{"endpoint_url", "ftp://x"}}).ok());
}

TEST_F(AwsConfigTest, SecretsNeverInMessages) {
  Write(".aws/credentials", "[half]\naws_access_key_id = AKIDHALF\n");
  env_["AWS_PROFILE"] = "half";
  auto r = Resolve();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("AKIDHALF"), std::string::npos);
  auto bad = Resolve({{"key", "AKIDOPT"}, {"secret", "s3cr3t"}, {"anon", "notabool"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("s3cr3t"), std::string::npos);
}

}  // namespace
}  // namespace lsio::kvstore
