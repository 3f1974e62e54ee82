// The HTTP engine's pure policies (requests in flight, hedging, Retry-After) and S3's XML.
// The engine itself runs against real servers in tests/kvstore/object_store_test.cc.

#include "http_client.h"

#include <gtest/gtest.h>

#include "xml.h"

namespace lsio::io::http {
namespace {

TEST(RequestLimit, GrowsWhileThroughputGrowsAndBacksOff) {
  RequestLimit limit(64, 4, 256, true);
  EXPECT_EQ(limit.limit(), 64);
  // Throughput proportional to the limit up to 100 requests, flat after.
  auto rate = [](int n) { return static_cast<uint64_t>(std::min(n, 100)) * 1000000; };
  for (int i = 0; i < 20; ++i) limit.OnWindow(rate(limit.limit()), 1.0, true);
  EXPECT_GE(limit.limit(), 100);
  EXPECT_LE(limit.limit(), 160) << "kept growing where more requests no longer helped";
  const int settled = limit.limit();
  // Not saturated: nothing to learn, nothing changes.
  limit.OnWindow(1, 1.0, false);
  EXPECT_EQ(limit.limit(), settled);
  // Throttling shrinks it.
  limit.OnThrottle();
  EXPECT_LT(limit.limit(), settled);
  EXPECT_GE(limit.limit(), 4);
}

TEST(RequestLimit, FixedWhenNotAdapting) {
  RequestLimit limit(32, 4, 256, false);
  for (int i = 0; i < 10; ++i) limit.OnWindow(uint64_t{1} << 30, 1.0, true);
  limit.OnThrottle();
  EXPECT_EQ(limit.limit(), 32);
}

TEST(RequestLimit, ThrottlesDownToTheMinimum) {
  RequestLimit limit(64, 4, 256, true);
  for (int i = 0; i < 40; ++i) {
    limit.OnThrottle();
    limit.OnWindow(0, 1.0, true);
    limit.OnWindow(0, 1.0, true);
    limit.OnWindow(0, 1.0, true);
  }
  EXPECT_EQ(limit.limit(), 4);
}

TEST(HedgePolicy, NeedsHistoryThenScalesWithSize) {
  ClientOptions o;
  o.hedge_factor = 4;
  o.hedge_min_delay = 0.01;
  HedgePolicy p(o);
  EXPECT_LT(p.HedgeAfter(1000), 0) << "no opinion without observations";
  // 50 ms to first byte, 100 MB/s; a tenth of the latencies are 4x that (not stragglers).
  for (int i = 0; i < 20; ++i) p.Observe(0.05, 0.05 + 1e6 / 1e8, 1000000);
  for (int i = 0; i < 3; ++i) p.Observe(0.2, 0.2 + 1e6 / 1e8, 1000000);
  EXPECT_NEAR(p.HedgeAfter(1000000), 4 * (0.2 + 0.01), 1e-6);
  for (int i = 0; i < 20; ++i) p.Observe(0.05, 0.05 + 1e6 / 1e8, 1000000);
  EXPECT_NEAR(p.HedgeAfter(1000000), 4 * (0.05 + 0.01), 1e-6);
  EXPECT_NEAR(p.HedgeAfter(10000000), 4 * (0.05 + 0.1), 1e-6);
  o.hedge_min_delay = 5;
  HedgePolicy slow(o);
  for (int i = 0; i < 20; ++i) slow.Observe(0.001, 0.002, 10);
  EXPECT_DOUBLE_EQ(slow.HedgeAfter(10), 5);
}

TEST(HedgeBudget, BurstThenAFractionOfAttemptsAndARefillWithTime) {
  ClientOptions o;
  o.hedge_burst = 3;
  o.hedge_max_fraction = 0.25;  // exact in binary, like the sums below
  o.hedge_refill_per_second = 1;
  HedgeBudget b(o, 100.0);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.TryTake(100.0)) << i;
  EXPECT_FALSE(b.TryTake(100.0)) << "the burst is used up";
  // Four first attempts earn one hedge.
  for (int i = 0; i < 3; ++i) b.OnFirstAttempt();
  EXPECT_FALSE(b.TryTake(100.0));
  b.OnFirstAttempt();
  EXPECT_TRUE(b.TryTake(100.0));
  EXPECT_FALSE(b.TryTake(100.0));
  // A straggler found later is not left waiting: the budget refills with time...
  EXPECT_FALSE(b.TryTake(100.5));
  EXPECT_TRUE(b.TryTake(101.0));
  // ...up to the burst, no further.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.TryTake(1000.0)) << i;
  EXPECT_FALSE(b.TryTake(1000.0));
  for (int i = 0; i < 1000; ++i) b.OnFirstAttempt();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.TryTake(1000.0)) << i;
  EXPECT_FALSE(b.TryTake(1000.0));
}

TEST(RetryAfter, SecondsAndDates) {
  EXPECT_DOUBLE_EQ(ParseRetryAfter("3", 0), 3);
  EXPECT_DOUBLE_EQ(ParseRetryAfter(" 12 ", 0), 12);
  EXPECT_DOUBLE_EQ(ParseRetryAfter("", 0), 0);
  EXPECT_DOUBLE_EQ(ParseRetryAfter("soon", 0), 0);
  // RFC 7231's example date is 1994-11-06 08:49:37 UTC = 784111777.
  EXPECT_DOUBLE_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), 30);
  EXPECT_DOUBLE_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), 0);
}

TEST(Xml, ListBucketResultWithNamespace) {
  const char* doc =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Name>b</Name><IsTruncated>true</IsTruncated>"
      "<Contents><Key>a &amp; b/c=1 \xc3\xa9</Key><Size>10</Size></Contents>"
      "<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes>"
      "<NextContinuationToken>tok/+=</NextContinuationToken></ListBucketResult>";
  auto xml = ParseXml(doc, "test");
  ASSERT_TRUE(xml.ok()) << xml.status().ToString();
  EXPECT_EQ(xml->name, "ListBucketResult");
  EXPECT_EQ(xml->ChildText("IsTruncated"), "true");
  EXPECT_EQ(xml->ChildText("NextContinuationToken"), "tok/+=");
  ASSERT_NE(xml->Child("Contents"), nullptr);
  EXPECT_EQ(xml->Child("Contents")->ChildText("Key"), "a & b/c=1 \xc3\xa9");
  EXPECT_EQ(xml->Child("CommonPrefixes")->ChildText("Prefix"), "p/");
}

TEST(Xml, RefusesBadAndHostileDocuments) {
  EXPECT_EQ(ParseXml("<a><b></a>", "t").status().code(), StatusCode::kCorruptData);
  EXPECT_EQ(ParseXml("", "t").status().code(), StatusCode::kCorruptData);
  const char* laughs =
      "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
      "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><l>&b;</l>";
  auto r = ParseXml(laughs, "listing s3://b");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("listing s3://b"), std::string::npos);
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  for (int i = 0; i < 100; ++i) deep += "</a>";
  EXPECT_FALSE(ParseXml(deep, "t").ok());
  EXPECT_EQ(XmlEscape("a<&>\"'"), "a&lt;&amp;&gt;&quot;&apos;");
}

}  // namespace
}  // namespace lsio::io::http
