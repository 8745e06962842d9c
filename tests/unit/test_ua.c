/* test_ua.c - user-agent classification against a table of real-world-shaped
 * user agents (written for this test), plus the bot policy's edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "analytics/ua.h"
#include "core/clock.h"

struct ua_case {
    const char *ua;
    uint8_t head;
    int bot;
    const char *device, *browser, *os;
};

#define WIN_CHROME                                                                                 \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "            \
    "Chrome/120.0.0.0 Safari/537.36"
#define ANDROID_PHONE "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "

static const struct ua_case cases[] = {
    /* desktop */
    {WIN_CHROME, 0, 0, "desktop", "Chrome", "Windows"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0", 0, 0,
     "desktop", "Firefox", "Windows"},
    {"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", 0, 0, "desktop",
     "Firefox", "Linux"},
    {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", 0, 0,
     "desktop", "Firefox", "Linux"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.1 Safari/605.1.15",
     0, 0, "desktop", "Safari", "macOS"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/119.0.0.0 Safari/537.36",
     0, 0, "desktop", "Chrome", "macOS"},
    {WIN_CHROME " Edg/120.0.2210.61", 0, 0, "desktop", "Edge", "Windows"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
     0, 0, "desktop", "Edge", "Windows"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
     0, 0, "desktop", "Opera", "Windows"},
    {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36",
     0, 0, "desktop", "Chrome", "ChromeOS"},
    {"Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko", 0, 0, "desktop",
     "Other", "Windows"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/118.0.0.0 YaBrowser/23.11.0.0 Safari/537.36",
     0, 0, "desktop", "Other", "Windows"},
    /* phones */
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
     0, 0, "mobile", "Safari", "iOS"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) CriOS/119.0.6045.169 Mobile/15E148 Safari/604.1",
     0, 0, "mobile", "Chrome", "iOS"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) FxiOS/120.0 Mobile/15E148 Safari/605.1.15",
     0, 0, "mobile", "Firefox", "iOS"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) EdgiOS/119.0.2151.96 Version/17.0 Mobile/15E148 Safari/604.1",
     0, 0, "mobile", "Edge", "iOS"},
    {ANDROID_PHONE "Chrome/120.0.0.0 Mobile Safari/537.36", 0, 0, "mobile", "Chrome", "Android"},
    {ANDROID_PHONE "Chrome/119.0.0.0 Mobile Safari/537.36 EdgA/119.0.2151.78", 0, 0, "mobile",
     "Edge", "Android"},
    {ANDROID_PHONE "Chrome/119.0.0.0 Mobile Safari/537.36 OPR/79.0.4195.76783", 0, 0, "mobile",
     "Opera", "Android"},
    {"Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
     0, 0, "mobile", "Samsung Internet", "Android"},
    {"Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0", 0, 0, "mobile",
     "Firefox", "Android"},
    /* "Cubot" is a phone brand, not a crawler */
    {"Mozilla/5.0 (Linux; Android 11; CUBOT P50) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/118.0.0.0 Mobile Safari/537.36",
     0, 0, "mobile", "Chrome", "Android"},
    /* tablets */
    {"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/16.6 Mobile/15E148 Safari/604.1",
     0, 0, "tablet", "Safari", "iOS"},
    {"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/119.0.0.0 Safari/537.36",
     0, 0, "tablet", "Chrome", "Android"},
    {"Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/22.0 Chrome/111.0.5563.116 Safari/537.36",
     0, 0, "tablet", "Samsung Internet", "Android"},
    {"Mozilla/5.0 (Android 13; Tablet; rv:120.0) Gecko/120.0 Firefox/120.0", 0, 0, "tablet",
     "Firefox", "Android"},
    {"Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) AppleWebKit/534.30 (KHTML, "
     "like Gecko) Version/4.0 Safari/534.30",
     0, 0, "tablet", "Other", "Android"},
    /* named crawlers and preview fetchers */
    {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 0, 1, "bot",
     "Other", "unknown"},
    {"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/119.0.6045.199 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
     "+http://www.google.com/bot.html)",
     0, 1, "bot", "Chrome", "Android"},
    {"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 0, 1, "bot",
     "Other", "unknown"},
    {"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 0, 1, "bot", "Other", "unknown"},
    {"Slack-ImgProxy (+https://api.slack.com/robots)", 0, 1, "bot", "Other", "unknown"},
    {"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 0, 1, "bot",
     "Other", "unknown"},
    {"Twitterbot/1.0", 0, 1, "bot", "Other", "unknown"},
    {"LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", 0, 1,
     "bot", "Other", "unknown"},
    {"Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", 0, 1, "bot", "Other",
     "unknown"},
    {"TelegramBot (like TwitterBot)", 0, 1, "bot", "Other", "unknown"},
    {"WhatsApp/2.23.20.0 A", 0, 1, "bot", "Other", "unknown"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
     0, 1, "bot", "Safari", "macOS"},
    {"DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", 0, 1, "bot", "Other", "unknown"},
    {"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", 0, 1, "bot", "Other",
     "unknown"},
    {"Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", 0, 1,
     "bot", "Other", "unknown"},
    {"Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)", 0, 1, "bot", "Other",
     "unknown"},
    {"Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)", 0, 1, "bot",
     "Other", "unknown"},
    {"Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5", 0, 1, "bot", "Other",
     "Windows"},
    /* command-line tools and HTTP libraries */
    {"curl/8.4.0", 0, 1, "bot", "Other", "unknown"},
    {"Wget/1.21.3", 0, 1, "bot", "Other", "unknown"},
    {"python-requests/2.31.0", 0, 1, "bot", "Other", "unknown"},
    {"Python-urllib/3.11", 0, 1, "bot", "Other", "unknown"},
    {"Go-http-client/1.1", 0, 1, "bot", "Other", "unknown"},
    {"okhttp/4.12.0", 0, 1, "bot", "Other", "unknown"},
    {"Java/17.0.9", 0, 1, "bot", "Other", "unknown"},
    {"axios/1.6.2", 0, 1, "bot", "Other", "unknown"},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/120.0.6099.28 Safari/537.36",
     0, 1, "bot", "Chrome", "Linux"},
    /* generic tokens, any case */
    {"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", 0, 1, "bot",
     "Other", "unknown"},
    {"ExampleCrawler/2.0", 0, 1, "bot", "Other", "unknown"},
    {"MOZILLA/5.0 (COMPATIBLE; SOMESPIDER/1.0)", 0, 1, "bot", "Other", "unknown"},
    {"LinkPreviewService/3.1", 0, 1, "bot", "Other", "unknown"},
    /* no user agent, or one that says nothing */
    {"", 0, 1, "bot", "unknown", "unknown"},
    {"-", 0, 1, "bot", "unknown", "unknown"},
    {"   ", 0, 1, "bot", "unknown", "unknown"},
    /* HEAD is a link checker even with a browser's user agent */
    {WIN_CHROME, 1, 1, "bot", "Chrome", "Windows"},
    /* non-empty but unrecognisable */
    {"Mozilla/5.0", 0, 0, "unknown", "Other", "unknown"},
};

#define CASE_COUNT (sizeof cases / sizeof cases[0])

static int check_case(const struct ua_case *c)
{
    wl_ua_info info;
    wl_ua_classify(c->ua, strlen(c->ua), c->head, &info);
    if ((int)info.is_bot == c->bot && strcmp(info.device, c->device) == 0 &&
        strcmp(info.browser, c->browser) == 0 && strcmp(info.os, c->os) == 0)
        return 0;
    print_error("ua \"%s\" head=%d: got bot=%d %s/%s/%s, want bot=%d %s/%s/%s\n", c->ua, c->head,
                info.is_bot, info.device, info.browser, info.os, c->bot, c->device, c->browser,
                c->os);
    return 1;
}

static void test_table(void **state)
{
    (void)state;
    int failures = 0;
    for (size_t i = 0; i < CASE_COUNT; i++)
        failures += check_case(&cases[i]);
    assert_int_equal(failures, 0);
    assert_true(CASE_COUNT >= 30);
}

static void test_rules_sorted(void **state)
{
    (void)state;
    assert_true(wl_ua_selfcheck());
}

static void test_null_is_empty(void **state)
{
    (void)state;
    wl_ua_info info;
    wl_ua_classify(NULL, 0, 0, &info);
    assert_true(info.is_bot);
    assert_string_equal(info.browser, "unknown");
}

/* The not-NUL-terminated contract: only ua[0..len) is read. */
static void test_length_respected(void **state)
{
    (void)state;
    const char *s = "curl/8.0 Googlebot";
    wl_ua_info info;
    wl_ua_classify(s + 9, 0, 0, &info);
    assert_true(info.is_bot);
    char buf[] = {'F', 'i', 'r', 'e', 'f', 'o', 'x', '/', '1', 'b', 'o', 't'};
    wl_ua_classify(buf, 9, 0, &info);
    assert_false(info.is_bot);
    assert_string_equal(info.browser, "Firefox");
}

/* Only the first WL_UA_MAX_SCAN bytes count: a bot token past them is not
 * seen, which is the documented price of bounded work. */
static void test_scan_cap(void **state)
{
    (void)state;
    char ua[WL_UA_MAX_SCAN + 64];
    memset(ua, 'a', sizeof ua);
    memcpy(ua, "Firefox/1 ", 10);
    memcpy(ua + WL_UA_MAX_SCAN + 8, " bot", 4);
    wl_ua_info info;
    wl_ua_classify(ua, sizeof ua, 0, &info);
    assert_false(info.is_bot);
    assert_string_equal(info.browser, "Firefox");
}

/* Not an assertion on speed (machines differ): prints the cost per user
 * agent for the report in docs. */
static void test_cost(void **state)
{
    (void)state;
    enum { ROUNDS = 20000 };
    size_t lens[CASE_COUNT];
    for (size_t i = 0; i < CASE_COUNT; i++)
        lens[i] = strlen(cases[i].ua);
    volatile unsigned sink = 0;
    int64_t t0 = wl_mono_ns();
    for (int r = 0; r < ROUNDS; r++)
        for (size_t i = 0; i < CASE_COUNT; i++) {
            wl_ua_info info;
            wl_ua_classify(cases[i].ua, lens[i], 0, &info);
            sink += info.is_bot;
        }
    int64_t t1 = wl_mono_ns();
    printf("ua: %.0f ns per user agent (%zu-entry table)\n",
           (double)(t1 - t0) / ((double)ROUNDS * CASE_COUNT), CASE_COUNT);
    (void)sink;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),         cmocka_unit_test(test_rules_sorted),
        cmocka_unit_test(test_null_is_empty), cmocka_unit_test(test_length_respected),
        cmocka_unit_test(test_scan_cap),      cmocka_unit_test(test_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
