#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "ringgate/policy/rate_limit.h"

namespace ringgate {
namespace {

IpAddress Ip(std::string_view s) {
  std::optional<IpAddress> ip = IpAddress::Parse(s);
  EXPECT_TRUE(ip.has_value()) << s;
  return ip.value_or(IpAddress{});
}

TrustedProxies Trusted(std::string_view list) {
  Result<TrustedProxies> t = TrustedProxies::Parse(list);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.status().message());
  return t.ok() ? *t : TrustedProxies{};
}

HttpRequest WithXff(std::initializer_list<std::string_view> values) {
  HttpRequest r;
  for (std::string_view v : values)
    r.headers.push_back(HttpHeader{"X-Forwarded-For", v});
  return r;
}

TEST(IpAddress, ParsesForms) {
  EXPECT_EQ(Ip("1.2.3.4").ToString(), "1.2.3.4");
  EXPECT_EQ(Ip(" 1.2.3.4:8080 ").ToString(), "1.2.3.4");
  EXPECT_EQ(Ip("::1").ToString(), "::1");
  EXPECT_EQ(Ip("[2001:db8::1]:443").ToString(), "2001:db8::1");
  EXPECT_EQ(Ip("[2001:db8::1]").ToString(), "2001:db8::1");
  EXPECT_EQ(Ip("::ffff:10.0.0.1"), Ip("10.0.0.1"));  // mapped and plain IPv4 are one client
  EXPECT_TRUE(Ip("10.0.0.1").is_v4());
  EXPECT_FALSE(Ip("::1").is_v4());
  EXPECT_EQ(IpAddress::V4(0x7f000001), Ip("127.0.0.1"));
  for (std::string_view bad : {"", "unknown", "1.2.3", "1.2.3.4.5", "1.2.3.4:", "1.2.3.4:x", "[::1",
                               "[::1]x", "::g", "999.1.1.1", "fe80::1%eth0"}) {
    EXPECT_FALSE(IpAddress::Parse(bad).has_value()) << bad;
  }
}

TEST(IpAddress, FromSockaddr) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
  EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in)), Ip("192.0.2.7"));
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "2001:db8::5", &in6.sin6_addr);
  EXPECT_EQ(IpAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&in6)), Ip("2001:db8::5"));
  sockaddr other{};
  other.sa_family = AF_UNIX;
  EXPECT_FALSE(IpAddress::FromSockaddr(&other).has_value());
  EXPECT_FALSE(IpAddress::FromSockaddr(nullptr).has_value());
}

TEST(TrustedProxies, ParsesAddressesAndCidrs) {
  TrustedProxies t =
      Trusted(" 10.0.0.0/8 , 127.0.0.1,, fd00::/8, 2001:db8::1/128, 192.168.1.128/25");
  EXPECT_EQ(t.size(), 5u);
  EXPECT_TRUE(t.Contains(Ip("10.255.1.2")));
  EXPECT_FALSE(t.Contains(Ip("11.0.0.1")));
  EXPECT_TRUE(t.Contains(Ip("127.0.0.1")));
  EXPECT_FALSE(t.Contains(Ip("127.0.0.2")));
  EXPECT_TRUE(t.Contains(Ip("fd12:3456::1")));
  EXPECT_FALSE(t.Contains(Ip("fe80::1")));
  EXPECT_TRUE(t.Contains(Ip("2001:db8::1")));
  EXPECT_FALSE(t.Contains(Ip("2001:db8::2")));
  EXPECT_TRUE(t.Contains(Ip("192.168.1.200")));
  EXPECT_FALSE(t.Contains(Ip("192.168.1.100")));
  EXPECT_TRUE(t.Contains(Ip("::ffff:10.1.1.1")));  // dual-stack peer form
  // An IPv4 /0 covers IPv4 only; an IPv6 /0 covers everything.
  EXPECT_FALSE(Trusted("0.0.0.0/0").Contains(Ip("::1")));
  EXPECT_TRUE(Trusted("0.0.0.0/0").Contains(Ip("8.8.8.8")));
  EXPECT_TRUE(Trusted("::/0").Contains(Ip("8.8.8.8")));
  EXPECT_TRUE(Trusted("").empty());
}

TEST(TrustedProxies, RejectsBadItems) {
  for (std::string_view bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "nope",
                               "1.2.3.4:80", "10.0.0.1, bogus"}) {
    EXPECT_FALSE(TrustedProxies::Parse(bad).ok()) << bad;
  }
}

TEST(ClientIp, NoTrustedProxiesUsesPeer) {
  HttpRequest r = WithXff({"6.6.6.6"});
  EXPECT_EQ(ClientIp(r, Ip("203.0.113.9"), TrustedProxies{}), Ip("203.0.113.9"));
}

TEST(ClientIp, UntrustedPeerCannotSpoof) {
  // A client talking to us directly sends its own X-Forwarded-For: ignored.
  HttpRequest r = WithXff({"1.1.1.1, 10.0.0.5"});
  EXPECT_EQ(ClientIp(r, Ip("203.0.113.9"), Trusted("10.0.0.0/8")), Ip("203.0.113.9"));
}

TEST(ClientIp, TrustedProxyIsBelieved) {
  HttpRequest r = WithXff({"198.51.100.4"});
  EXPECT_EQ(ClientIp(r, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("198.51.100.4"));
}

TEST(ClientIp, SpoofedLeftEntriesAreIgnored) {
  // The client sent "X-Forwarded-For: 1.1.1.1"; our proxy appended the real address.
  HttpRequest r = WithXff({"1.1.1.1, 198.51.100.4"});
  EXPECT_EQ(ClientIp(r, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("198.51.100.4"));
  // Spoofing a trusted address on the left does not help either.
  HttpRequest r2 = WithXff({"10.9.9.9, 198.51.100.4"});
  EXPECT_EQ(ClientIp(r2, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("198.51.100.4"));
}

TEST(ClientIp, ChainOfTrustedHopsIsSkipped) {
  HttpRequest r = WithXff({"1.1.1.1, 198.51.100.4, 10.0.0.7, 10.0.0.8"});
  EXPECT_EQ(ClientIp(r, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("198.51.100.4"));
  // Several headers form one list, later headers holding later hops.
  HttpRequest split = WithXff({"1.1.1.1, 198.51.100.4", "10.0.0.7,10.0.0.8"});
  EXPECT_EQ(ClientIp(split, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("198.51.100.4"));
}

TEST(ClientIp, AllTrustedGivesLeftmost) {
  HttpRequest r = WithXff({"10.0.0.9, 10.0.0.7"});
  EXPECT_EQ(ClientIp(r, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("10.0.0.9"));
}

TEST(ClientIp, GarbageStopsAtTheLastTrustedHop) {
  HttpRequest r = WithXff({"198.51.100.4, unknown, 10.0.0.7"});
  EXPECT_EQ(ClientIp(r, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("10.0.0.7"));
  HttpRequest r2 = WithXff({"<script>"});
  EXPECT_EQ(ClientIp(r2, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("10.0.0.2"));
}

TEST(ClientIp, NoHeaderFromTrustedPeerIsThePeer) {
  HttpRequest r;
  EXPECT_EQ(ClientIp(r, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("10.0.0.2"));
  HttpRequest empty = WithXff({" , "});
  EXPECT_EQ(ClientIp(empty, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("10.0.0.2"));
}

TEST(ClientIp, Ipv6AndPorts) {
  HttpRequest r = WithXff({"[2001:db8::7]:51000, fd00::1"});
  EXPECT_EQ(ClientIp(r, Ip("::1"), Trusted("::1, fd00::/8")), Ip("2001:db8::7"));
  HttpRequest r4 = WithXff({"198.51.100.4:3333"});
  EXPECT_EQ(ClientIp(r4, Ip("::ffff:127.0.0.1"), Trusted("127.0.0.1")), Ip("198.51.100.4"));
}

TEST(ClientIp, HeaderNameIsCaseInsensitive) {
  HttpRequest r;
  r.headers.push_back(HttpHeader{"x-forwarded-for", "198.51.100.4"});
  EXPECT_EQ(ClientIp(r, Ip("10.0.0.2"), Trusted("10.0.0.0/8")), Ip("198.51.100.4"));
}

}  // namespace
}  // namespace ringgate
