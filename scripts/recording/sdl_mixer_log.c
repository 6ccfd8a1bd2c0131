/* LD_PRELOAD shim: log every sound a game starts through SDL2_mixer, with the wall-clock time.
 *
 *   gcc -shared -fPIC -O2 -o sdl_mixer_log.so sdl_mixer_log.c -ldl
 *   FOLEY_SOUND_LOG=sounds.log LD_PRELOAD=$PWD/sdl_mixer_log.so wesnoth ...
 *
 * Each line: "<unix time, s>\t<path of the sound file>". The file name comes from the last
 * .ogg/.wav file the game opened before Mix_LoadWAV_RW returned that chunk (Wesnoth reads the
 * file, then hands SDL_mixer an RWops), so chunks are mapped to names once, when loaded. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

typedef struct Mix_Chunk Mix_Chunk;
typedef struct SDL_RWops SDL_RWops;

#define MAXCHUNKS 4096
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char last_path[1024];
static struct { const Mix_Chunk *chunk; char *name; } chunks[MAXCHUNKS];
static int n_chunks;
static FILE *out;

static void remember(const char *path) {
  if (!path) return;
  size_t n = strlen(path);
  if (n > 4 && (!strcmp(path + n - 4, ".ogg") || !strcmp(path + n - 4, ".wav"))) {
    pthread_mutex_lock(&lock);
    snprintf(last_path, sizeof last_path, "%s", path);
    pthread_mutex_unlock(&lock);
  }
}

static void log_play(const Mix_Chunk *c) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  pthread_mutex_lock(&lock);
  if (!out) {
    const char *p = getenv("FOLEY_SOUND_LOG");
    out = fopen(p ? p : "foley-sounds.log", "a");
  }
  const char *name = "?";
  for (int i = 0; i < n_chunks; i++) if (chunks[i].chunk == c) { name = chunks[i].name; break; }
  if (out) { fprintf(out, "%.4f\t%s\n", tv.tv_sec + tv.tv_usec / 1e6, name); fflush(out); }
  pthread_mutex_unlock(&lock);
}

#define REAL(ret, fn, ...) static ret (*real_##fn)(__VA_ARGS__); if (!real_##fn) real_##fn = dlsym(RTLD_NEXT, #fn)

int open(const char *path, int flags, ...) {
  REAL(int, open, const char *, int, ...);
  va_list ap; va_start(ap, flags); int mode = va_arg(ap, int); va_end(ap);
  remember(path);
  return real_open(path, flags, mode);
}
int open64(const char *path, int flags, ...) {
  REAL(int, open64, const char *, int, ...);
  va_list ap; va_start(ap, flags); int mode = va_arg(ap, int); va_end(ap);
  remember(path);
  return real_open64(path, flags, mode);
}
FILE *fopen(const char *path, const char *m) { REAL(FILE *, fopen, const char *, const char *); remember(path); return real_fopen(path, m); }
FILE *fopen64(const char *path, const char *m) { REAL(FILE *, fopen64, const char *, const char *); remember(path); return real_fopen64(path, m); }

Mix_Chunk *Mix_LoadWAV_RW(SDL_RWops *src, int freesrc) {
  REAL(Mix_Chunk *, Mix_LoadWAV_RW, SDL_RWops *, int);
  Mix_Chunk *c = real_Mix_LoadWAV_RW(src, freesrc);
  pthread_mutex_lock(&lock);
  if (c && n_chunks < MAXCHUNKS) { chunks[n_chunks].chunk = c; chunks[n_chunks].name = strdup(last_path); n_chunks++; }
  pthread_mutex_unlock(&lock);
  return c;
}
int Mix_PlayChannelTimed(int ch, Mix_Chunk *c, int loops, int ticks) {
  REAL(int, Mix_PlayChannelTimed, int, Mix_Chunk *, int, int);
  int r = real_Mix_PlayChannelTimed(ch, c, loops, ticks); if (r >= 0) log_play(c); return r;
}
int Mix_PlayChannel(int ch, Mix_Chunk *c, int loops) {
  REAL(int, Mix_PlayChannel, int, Mix_Chunk *, int);
  int r = real_Mix_PlayChannel(ch, c, loops); if (r >= 0) log_play(c); return r;
}
int Mix_FadeInChannelTimed(int ch, Mix_Chunk *c, int loops, int ms, int ticks) {
  REAL(int, Mix_FadeInChannelTimed, int, Mix_Chunk *, int, int, int);
  int r = real_Mix_FadeInChannelTimed(ch, c, loops, ms, ticks); if (r >= 0) log_play(c); return r;
}
int Mix_FadeInChannel(int ch, Mix_Chunk *c, int loops, int ms) {
  REAL(int, Mix_FadeInChannel, int, Mix_Chunk *, int, int);
  int r = real_Mix_FadeInChannel(ch, c, loops, ms); if (r >= 0) log_play(c); return r;
}
