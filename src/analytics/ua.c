/* ua.c - user-agent classification (bot, device, browser, OS).
 *
 * Design: a user agent is a list of product tokens ("Chrome/120.0",
 * "(Windows NT 10.0; Win64; x64)", "Googlebot/2.1"). Instead of running one
 * substring search per rule over the whole string, we lower-case the first
 * WL_UA_MAX_SCAN bytes once, split them into words (runs of letters, digits,
 * '-', '_' and '.'), look each word up in one sorted rule table by binary
 * search, and OR the matching rules' flag bits together. The decision is then
 * made from the flags alone, so the precedence rules that matter (Edge, Opera
 * and Samsung Internet user agents also say "Chrome"; Chrome's also says
 * "Safari"; Android's also says "Linux"; iPad's also says "Mobile") live in
 * three small functions instead of being implied by the order of searches.
 *
 * Work is linear in the scanned length plus O(log rules) per word; nothing is
 * allocated. The rule names below are our own list, written for WarpLink. */
#include "analytics/ua.h"

#include <string.h>

enum ua_flag {
    F_BOT = 1u << 0,
    /* browsers */
    F_EDGE = 1u << 1,
    F_OPERA = 1u << 2,
    F_SAMSUNG = 1u << 3,
    F_OTHER_BROWSER = 1u << 4, /* Chromium-based, but a brand we do not list */
    F_FIREFOX = 1u << 5,
    F_CHROME = 1u << 6,
    F_SAFARI = 1u << 7,
    /* operating systems */
    F_CHROMEOS = 1u << 8,
    F_IOS = 1u << 9,
    F_ANDROID = 1u << 10,
    F_WINDOWS = 1u << 11,
    F_MACOS = 1u << 12,
    F_LINUX = 1u << 13,
    /* form factor */
    F_MOBILE = 1u << 14,
    F_TABLET = 1u << 15,
};

struct ua_rule {
    const char *word; /* lower case */
    size_t len;
    unsigned flags;
};

#define RULE(word, flags)                                                                          \
    {                                                                                              \
        word, sizeof(word) - 1, flags                                                              \
    }

/* Sorted by strcmp() order of `word`: the lookup is a binary search, and
 * wl_ua_selfcheck() (run by the unit test) proves the order. Crawlers whose
 * names contain "bot", "crawler", "spider" or "preview" are caught by the
 * generic rule in word_is_generic_bot() and need no entry. */
static const struct ua_rule rules[] = {
    RULE("aiohttp", F_BOT),
    RULE("android", F_ANDROID),
    RULE("apache-httpclient", F_BOT),
    RULE("axios", F_BOT),
    RULE("cardyb", F_BOT), /* Bluesky's link-card fetcher */
    RULE("chrome", F_CHROME),
    RULE("chrome-lighthouse", F_BOT),
    RULE("chromium", F_CHROME),
    RULE("crios", F_CHROME), /* Chrome on iOS */
    RULE("cros", F_CHROMEOS),
    RULE("curl", F_BOT),
    RULE("dart", F_BOT),
    RULE("edg", F_EDGE),
    RULE("edga", F_EDGE),   /* Edge on Android */
    RULE("edge", F_EDGE),   /* legacy EdgeHTML */
    RULE("edgios", F_EDGE), /* Edge on iOS */
    RULE("embedly", F_BOT),
    RULE("facebookcatalog", F_BOT),
    RULE("facebookexternalhit", F_BOT),
    RULE("feedfetcher-google", F_BOT),
    RULE("firefox", F_FIREFOX),
    RULE("fxios", F_FIREFOX), /* Firefox on iOS */
    RULE("go-http-client", F_BOT),
    RULE("google-inspectiontool", F_BOT),
    RULE("googleother", F_BOT),
    RULE("guzzlehttp", F_BOT),
    RULE("headlesschrome", F_BOT | F_CHROME),
    RULE("http.rb", F_BOT), /* Ruby client; Mastodon's preview fetcher */
    RULE("httpie", F_BOT),
    RULE("ia_archiver", F_BOT),
    RULE("iframely", F_BOT),
    RULE("ipad", F_IOS | F_TABLET),
    RULE("iphone", F_IOS | F_MOBILE),
    RULE("ipod", F_IOS | F_MOBILE),
    RULE("java", F_BOT),
    RULE("kindle", F_TABLET),
    RULE("libwww-perl", F_BOT),
    RULE("linux", F_LINUX),
    RULE("macintosh", F_MACOS),
    RULE("mediapartners-google", F_BOT),
    RULE("miuibrowser", F_OTHER_BROWSER),
    RULE("mobile", F_MOBILE),
    RULE("node-fetch", F_BOT),
    RULE("okhttp", F_BOT),
    RULE("opera", F_OPERA),
    RULE("opios", F_OPERA), /* Opera Mini on iOS */
    RULE("opr", F_OPERA),
    RULE("opt", F_OPERA), /* Opera Touch on iOS */
    RULE("phantomjs", F_BOT),
    RULE("postmanruntime", F_BOT),
    RULE("python-httpx", F_BOT),
    RULE("python-requests", F_BOT),
    RULE("python-urllib", F_BOT),
    RULE("ruby", F_BOT),
    RULE("safari", F_SAFARI),
    RULE("samsungbrowser", F_SAMSUNG),
    RULE("scrapy", F_BOT),
    RULE("silk", F_TABLET), /* Amazon's browser on Fire tablets */
    RULE("slack-imgproxy", F_BOT),
    RULE("slurp", F_BOT), /* Yahoo */
    RULE("tablet", F_TABLET),
    RULE("ucbrowser", F_OTHER_BROWSER),
    RULE("undici", F_BOT),
    RULE("vivaldi", F_OTHER_BROWSER),
    RULE("vkshare", F_BOT),
    RULE("wget", F_BOT),
    RULE("whatsapp", F_BOT),
    RULE("windows", F_WINDOWS),
    RULE("yabrowser", F_OTHER_BROWSER),
};

#define RULE_COUNT (sizeof rules / sizeof rules[0])

/* strcmp() order between a word and a rule. The first byte decides most
 * comparisons, so it is compared inline before calling memcmp(). */
static int word_cmp(const char *word, size_t len, const struct ua_rule *r)
{
    if (word[0] != r->word[0])
        return (unsigned char)word[0] < (unsigned char)r->word[0] ? -1 : 1;
    int c = memcmp(word, r->word, len < r->len ? len : r->len);
    if (c != 0)
        return c;
    return (len > r->len) - (len < r->len);
}

/* Flags of the rule named `word`, or 0. Version numbers ("537.36") are half
 * the words of a user agent and no rule starts with a digit. */
static unsigned rule_lookup(const char *word, size_t len)
{
    if (word[0] >= '0' && word[0] <= '9')
        return 0;
    size_t lo = 0, hi = RULE_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = word_cmp(word, len, &rules[mid]);
        if (c == 0)
            return rules[mid].flags;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

bool wl_ua_selfcheck(void)
{
    for (size_t i = 1; i < RULE_COUNT; i++)
        if (strcmp(rules[i - 1].word, rules[i].word) >= 0)
            return false;
    return true;
}

static bool has_at(const char *word, size_t len, size_t i, const char *needle, size_t n)
{
    return len - i >= n && memcmp(word + i, needle, n) == 0;
}

/* The catch-all for crawlers we did not name: does the word contain "bot",
 * "crawler", "spider" or "preview"? One pass dispatching on the letter,
 * because this runs for every word. "Cubot" is a phone maker whose model
 * names appear in ordinary Android browser user agents. */
static bool word_is_generic_bot(const char *word, size_t len)
{
    for (size_t i = 0; i + 3 <= len; i++) {
        switch (word[i]) {
        case 'b':
            if (has_at(word, len, i, "bot", 3))
                return !(i == 2 && memcmp(word, "cu", 2) == 0);
            break;
        case 'c':
            if (has_at(word, len, i, "crawler", 7))
                return true;
            break;
        case 's':
            if (has_at(word, len, i, "spider", 6))
                return true;
            break;
        case 'p':
            if (has_at(word, len, i, "preview", 7))
                return true;
            break;
        }
    }
    return false;
}

static bool is_word_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Lower-cases ua into buf (at most WL_UA_MAX_SCAN bytes) and reports whether
 * any letter or digit was seen: a user agent without one ("-", spaces) says
 * nothing about its sender and is treated like an empty one. */
static size_t lower_prefix(const char *ua, size_t len, char *buf, bool *has_alnum)
{
    size_t n = len < WL_UA_MAX_SCAN ? len : WL_UA_MAX_SCAN;
    *has_alnum = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = ascii_lower((unsigned char)ua[i]);
        buf[i] = (char)c;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            *has_alnum = true;
    }
    return n;
}

static unsigned scan_words(const char *buf, size_t n)
{
    unsigned flags = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && !is_word_char((unsigned char)buf[i]))
            i++;
        size_t start = i;
        while (i < n && is_word_char((unsigned char)buf[i]))
            i++;
        if (i == start)
            break;
        flags |= rule_lookup(buf + start, i - start);
        if (!(flags & F_BOT) && word_is_generic_bot(buf + start, i - start))
            flags |= F_BOT;
    }
    return flags;
}

/* Brands built on Chromium (and Chrome itself) also announce "Safari", so
 * the more specific brand must win over the generic one. The Android stock
 * browser says only "Safari"; it is not Apple's Safari. */
static const char *pick_browser(unsigned f)
{
    if (f & F_EDGE)
        return "Edge";
    if (f & F_OPERA)
        return "Opera";
    if (f & F_SAMSUNG)
        return "Samsung Internet";
    if (f & F_OTHER_BROWSER)
        return "Other";
    if (f & F_FIREFOX)
        return "Firefox";
    if (f & F_CHROME)
        return "Chrome";
    if ((f & F_SAFARI) && !(f & F_ANDROID))
        return "Safari";
    return "Other";
}

/* Android and ChromeOS user agents also say "Linux"; iOS ones say "like Mac
 * OS X" but not "Macintosh". */
static const char *pick_os(unsigned f)
{
    if (f & F_CHROMEOS)
        return "ChromeOS";
    if (f & F_IOS)
        return "iOS";
    if (f & F_ANDROID)
        return "Android";
    if (f & F_WINDOWS)
        return "Windows";
    if (f & F_MACOS)
        return "macOS";
    if (f & F_LINUX)
        return "Linux";
    return "unknown";
}

/* iPad user agents contain "Mobile", so tablet is decided first. Android
 * tablets are the Android user agents without "Mobile" (the convention
 * Android browsers follow to get tablet layouts). */
static const char *pick_device(unsigned f)
{
    if (f & F_BOT)
        return "bot";
    if (f & F_TABLET)
        return "tablet";
    if ((f & F_ANDROID) && !(f & F_MOBILE))
        return "tablet";
    if (f & F_MOBILE)
        return "mobile";
    if (f & (F_WINDOWS | F_MACOS | F_LINUX | F_CHROMEOS))
        return "desktop";
    return "unknown";
}

void wl_ua_classify(const char *ua, size_t len, uint8_t method_is_head, wl_ua_info *out)
{
    char buf[WL_UA_MAX_SCAN];
    bool has_alnum = false;
    size_t n = ua ? lower_prefix(ua, len, buf, &has_alnum) : 0;

    if (!has_alnum) {
        out->is_bot = true;
        out->device = "bot";
        out->browser = "unknown";
        out->os = "unknown";
        return;
    }
    unsigned f = scan_words(buf, n);
    if (method_is_head)
        f |= F_BOT;
    out->is_bot = (f & F_BOT) != 0;
    out->device = pick_device(f);
    out->browser = pick_browser(f);
    out->os = pick_os(f);
}
