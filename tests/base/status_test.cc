#include "lsio/base/status.h"

#include <cerrno>

#include <gtest/gtest.h>

#include "lsio/base/result.h"

namespace lsio {
namespace {

TEST(StatusTest, OkIsCheapAndEmpty) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ContextIsPrependedOutermostFirst) {
  Status s = NotFoundError("/x/0.0: no such file")
                 .WithContext("chunk 0.0")
                 .WithContext("variable 'sst'");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "variable 'sst': chunk 0.0: /x/0.0: no such file");
  EXPECT_EQ(s.ToString(), "NotFound: variable 'sst': chunk 0.0: /x/0.0: no such file");
  EXPECT_TRUE(Status().WithContext("ignored").ok());
}

TEST(StatusTest, ErrnoMapsToCodeAndKeepsErrno) {
  Status s = ErrnoToStatus(-ENOENT, "open /nope");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.sys_errno(), ENOENT);
  EXPECT_EQ(s.message(), "open /nope: No such file or directory");
  EXPECT_EQ(ErrnoToStatus(EACCES, "x").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoToStatus(EIO, "x").code(), StatusCode::kIOError);
  EXPECT_EQ(ErrnoToStatus(EISDIR, "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrnoToStatus(0, "x").code(), StatusCode::kInternal);
}

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  LSIO_ASSIGN_OR_RETURN(int h, Half(x));
  LSIO_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  LSIO_RETURN_IF_ERROR(Half(x));
  return Status::OK();
}

TEST(ResultTest, PropagatesValuesAndErrors) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "3 is odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(5).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.value_or(-1), -1);
}

TEST(ResultTest, OkStatusIsTurnedIntoInternalError) {
  Result<int> r{Status::OK()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(ResultTest, HoldsMoveOnlyTypes) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace lsio
