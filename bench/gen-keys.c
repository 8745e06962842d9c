/* gen-keys: benchmark data for bench/run.sh.
 *
 *   gen-keys N SEED OUTDIR
 *
 * Writes N random 7-char base62 keys that are unique ignoring case (nginx's
 * `map` matches case-insensitively, so "aBc1234" and "abc1234" would collide
 * there) and a long URL for each:
 *
 *   OUTDIR/links.tsv  key<TAB>url            (for `warplink link import`)
 *   OUTDIR/map.conf   /key "url";            (nginx `map $uri $target` include)
 *   OUTDIR/keys.txt   key                    (for the wrk Lua scripts)
 *
 * URLs look like https://example.com/p/<n>?q=<random base62>, 60..100 bytes.
 * Deterministic for a given SEED (splitmix64), so runs are reproducible.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rng_next(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n) { /* unbiased */
  uint64_t lim = UINT64_MAX - UINT64_MAX % n;
  uint64_t r;
  do {
    r = rng_next();
  } while (r >= lim);
  return (uint32_t)(r % n);
}

static const char B62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* case-folded key packed into 64 bits (36^7 < 2^37); 0 marks an empty slot */
static uint64_t fold(const char *k) {
  uint64_t v = 1;
  for (int i = 0; i < 7; i++) {
    char c = k[i];
    int d = (c >= '0' && c <= '9') ? c - '0'
            : (c >= 'a' && c <= 'z') ? 10 + c - 'a'
                                     : 10 + c - 'A';
    v = v * 36 + (uint64_t)d;
  }
  return v;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s N SEED OUTDIR\n", argv[0]);
    return 2;
  }
  long n = strtol(argv[1], NULL, 10);
  if (n <= 0 || n > 50000000) {
    fprintf(stderr, "gen-keys: bad N\n");
    return 2;
  }
  rng_state = strtoull(argv[2], NULL, 10);

  size_t cap = 1;
  while (cap < (size_t)n * 2)
    cap <<= 1;
  uint64_t *set = calloc(cap, sizeof *set);
  if (!set) {
    perror("calloc");
    return 1;
  }

  char path[4096];
  FILE *f[3];
  const char *names[3] = {"links.tsv", "map.conf", "keys.txt"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", argv[3], names[i]);
    if (!(f[i] = fopen(path, "w"))) {
      perror(path);
      return 1;
    }
    setvbuf(f[i], NULL, _IOFBF, 1 << 20);
  }

  long dups = 0;
  for (long i = 0; i < n;) {
    char key[8];
    for (int j = 0; j < 7; j++)
      key[j] = B62[rng_below(62)];
    key[7] = 0;
    uint64_t h = fold(key);
    size_t s = (size_t)((h * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
    int dup = 0;
    while (set[s]) {
      if (set[s] == h) {
        dup = 1;
        break;
      }
      s = (s + 1) & (cap - 1);
    }
    if (dup) {
      dups++;
      continue;
    }
    set[s] = h;

    /* https://example.com/p/<i>?q=<q>, total length 60..100 */
    char url[128];
    int base = snprintf(url, sizeof url, "https://example.com/p/%ld?q=", i);
    int total = 60 + (int)rng_below(41);
    int qlen = total - base;
    for (int j = 0; j < qlen; j++)
      url[base + j] = B62[rng_below(62)];
    url[base + qlen] = 0;

    fprintf(f[0], "%s\t%s\n", key, url);
    fprintf(f[1], "/%s \"%s\";\n", key, url);
    fprintf(f[2], "%s\n", key);
    i++;
  }
  for (int i = 0; i < 3; i++) {
    if (fclose(f[i]) != 0) {
      perror("fclose");
      return 1;
    }
  }
  fprintf(stderr, "gen-keys: %ld keys (%ld case-insensitive duplicates redrawn)\n",
          n, dups);
  free(set);
  return 0;
}
