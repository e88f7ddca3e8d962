// The admin token check goes through base's ConstantTimeEquals — every request, right token or
// wrong, any length — and never through an early-exit comparison. No timing is measured: the
// admin_tests binary is linked with `--wrap` on ConstantTimeEquals (tests/CMakeLists.txt), so
// every call from lib/admin reaches the counting wrapper below, which then runs the real one.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "admin/admin_internal.h"

#define SESSIOND_CTE_SYMBOL "_ZN8sessiond18ConstantTimeEqualsESt17basic_string_viewIcSt11char_traitsIcEES3_"

namespace {
struct Call {
  std::string a, b;
};
std::vector<Call> g_calls;
}  // namespace

bool RealConstantTimeEquals(std::string_view a, std::string_view b) asm("__real_" SESSIOND_CTE_SYMBOL);
bool WrappedConstantTimeEquals(std::string_view a, std::string_view b) asm("__wrap_" SESSIOND_CTE_SYMBOL);
bool WrappedConstantTimeEquals(std::string_view a, std::string_view b) {
  g_calls.push_back({std::string(a), std::string(b)});
  return RealConstantTimeEquals(a, b);
}

namespace sessiond::admin {
namespace {

constexpr char kToken[] = "0123456789abcdef0123456789abcdef";

int StatusWith(const Api& api, const std::string& authorization) {
  Request req;
  req.method = "GET";
  req.path = "/v1/status";
  req.authorization = authorization;
  return api.Handle(req).status;
}

TEST(TokenCompareTest, TheWrapperSeesTheRealFunction) {
  g_calls.clear();
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_EQ(g_calls.size(), 2u);  // the link-time wrap is in place; the tests below can trust it
}

TEST(TokenCompareTest, EveryTokenCheckIsOneConstantTimeComparisonWithTheWholeToken) {
  Api api(kToken, AdminServices{});
  struct Case {
    std::string given;
    bool accepted;
  };
  const std::vector<Case> cases = {
      {kToken, true},
      {"0123456789abcdef0123456789abcdeX", false},  // last byte differs
      {"X123456789abcdef0123456789abcdef", false},  // first byte differs
      {"0123456789abcdef", false},                  // a prefix
      {std::string(kToken) + "0", false},           // longer
  };
  for (const Case& c : cases) {
    g_calls.clear();
    int status = StatusWith(api, "Bearer " + c.given);
    EXPECT_EQ(status == 401, !c.accepted) << c.given;
    ASSERT_EQ(g_calls.size(), 1u) << "token check did not go through ConstantTimeEquals: " << c.given;
    EXPECT_EQ(g_calls[0].a, c.given);
    EXPECT_EQ(g_calls[0].b, kToken);
  }
}

TEST(TokenCompareTest, WrongSchemeIsRefusedWithoutLookingAtTheToken) {
  Api api(kToken, AdminServices{});
  g_calls.clear();
  EXPECT_EQ(StatusWith(api, ""), 401);
  EXPECT_EQ(StatusWith(api, std::string("Basic ") + kToken), 401);
  EXPECT_TRUE(g_calls.empty());  // the token is never compared byte-wise outside the wrapper
}

}  // namespace
}  // namespace sessiond::admin
