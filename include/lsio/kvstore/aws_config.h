#pragma once

// Where an S3 store's settings come from, resolved the way the AWS tools resolve them. Nothing
// here contacts the network: no instance metadata service, no STS, no SSO (a profile that only
// has those is an error that says so), so AWS_EC2_METADATA_DISABLED holds whatever its value.
//
// Precedence, highest first:
//   credentials  storage options key/secret/token; else AWS_ACCESS_KEY_ID,
//                AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (skipped when a profile is named in
//                the storage options); else the profile's aws_access_key_id /
//                aws_secret_access_key / aws_session_token in the shared credentials file
//                (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials), then in the config
//                file (AWS_CONFIG_FILE, default ~/.aws/config). No credentials anywhere:
//                anonymous requests.
//   anonymous    storage option anon=true, or AWS_NO_SIGN_REQUEST=YES/true/1.
//   profile      storage option profile; else AWS_PROFILE; else AWS_DEFAULT_PROFILE; else
//                "default". Credentials file sections are [NAME]; config sections
//                [profile NAME] (and [default]).
//   region       storage options region / region_name / client_kwargs.region_name; else
//                AWS_REGION; else AWS_DEFAULT_REGION; else the profile's region; else us-east-1.
//   endpoint     storage options endpoint_url / client_kwargs.endpoint_url; else
//                AWS_ENDPOINT_URL_S3; else AWS_ENDPOINT_URL; else the profile's s3 sub-section
//                endpoint_url, then its endpoint_url (the environment and config endpoints are
//                ignored when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true); else AWS's regional
//                endpoint https://s3.REGION.amazonaws.com.
//   addressing   storage option addressing_style = path | virtual | auto (default auto: path
//                style for a custom endpoint and for bucket names that are not DNS labels,
//                virtual-hosted on AWS).
//
// Thread safety: pure given its inputs (the environment is read through `env`).

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "lsio/base/result.h"

namespace lsio::kvstore {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
  bool empty() const { return access_key_id.empty(); }
};

enum class S3Addressing : unsigned char { kAuto, kPath, kVirtual };

struct AwsConfig {
  AwsCredentials credentials;
  bool anonymous = false;
  std::string region;
  // "" for AWS's own endpoint, else the URL given ("http://127.0.0.1:9000").
  std::string endpoint_url;
  S3Addressing addressing = S3Addressing::kAuto;
  // Where the credentials came from ("storage options", "environment", "profile 'dev' in
  // /home/u/.aws/credentials", "none: anonymous"), for messages. Never a secret.
  std::string credentials_source;
};

// Looks up an environment variable; nullopt when unset.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;
// The process environment.
Environment ProcessEnvironment();

// The storage option names that ResolveAwsConfig reads (others are for the caller).
bool IsAwsStorageOption(std::string_view name);

// Errors: kInvalidArgument for a bad option value (naming the option, never echoing a secret)
// or a key without a secret; kNotFound for a profile named explicitly (option or AWS_PROFILE)
// that no file has; kNotSupported for a profile that only has role_arn, credential_process,
// sso_* or web identity settings; kIOError for an unreadable file that exists.
Result<AwsConfig> ResolveAwsConfig(const std::map<std::string, std::string>& storage_options,
                                   const Environment& env);

// Parses an fsspec-style boolean ("true", "false", "1", "0", "yes", "no", any case).
Result<bool> ParseBoolOption(std::string_view name, std::string_view value);

}  // namespace lsio::kvstore
