/* LD_PRELOAD shim: log every sound a game starts through OpenAL, with the wall-clock time.
 *
 *   gcc -shared -fPIC -O2 -o openal_log.so openal_log.c -ldl -lpthread
 *   FOLEY_SOUND_LOG=sounds.log LD_PRELOAD=$PWD/openal_log.so warzone2100 ...
 *
 * Each line: "<unix time, s>\t<name of the sound file>", the format of sdl_mixer_log.c. For games
 * that read their sounds through PhysFS (Warzone 2100 reads them from its .wz archives) and decode
 * each into one OpenAL buffer: the name is the last .ogg/.wav the same thread opened with
 * PHYSFS_openRead before it filled the buffer (alBufferData); a source gets a buffer by
 * alSourcei(AL_BUFFER), and alSourcePlay(v) logs the name of its buffer. Streamed sounds
 * (alSourceQueueBuffers: music, long speech) are not logged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

typedef unsigned int ALuint;
typedef int ALint;
typedef int ALenum;
typedef int ALsizei;
#define AL_BUFFER 0x1009
#define MAXIDS 8192

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread char last_path[512];
static char *buffer_name[MAXIDS];  /* OpenAL buffer id -> sound name */
static ALuint source_buffer[MAXIDS]; /* OpenAL source id -> buffer id */
static FILE *out;

#define REAL(ret, name, ...) \
  static ret (*real_##name)(__VA_ARGS__); \
  if (!real_##name) real_##name = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

static int is_sound(const char *p) {
  size_t n = p ? strlen(p) : 0;
  return n > 4 && (!strcasecmp(p + n - 4, ".ogg") || !strcasecmp(p + n - 4, ".wav") || !strcasecmp(p + n - 5, ".opus"));
}

static void log_name(const char *name) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  pthread_mutex_lock(&lock);
  if (!out) {
    const char *p = getenv("FOLEY_SOUND_LOG");
    out = fopen(p ? p : "foley-sounds.log", "a");
  }
  if (out) {
    fprintf(out, "%.4f\t%s\n", tv.tv_sec + tv.tv_usec / 1e6, name);
    fflush(out);
  }
  pthread_mutex_unlock(&lock);
}

void *PHYSFS_openRead(const char *name) {
  REAL(void *, PHYSFS_openRead, const char *);
  if (is_sound(name)) snprintf(last_path, sizeof last_path, "%s", name);
  return real_PHYSFS_openRead(name);
}

void alBufferData(ALuint buffer, ALenum format, const void *data, ALsizei size, ALsizei freq) {
  REAL(void, alBufferData, ALuint, ALenum, const void *, ALsizei, ALsizei);
  if (buffer < MAXIDS && last_path[0]) {
    pthread_mutex_lock(&lock);
    free(buffer_name[buffer]);
    buffer_name[buffer] = strdup(last_path);
    pthread_mutex_unlock(&lock);
  }
  real_alBufferData(buffer, format, data, size, freq);
}

void alSourcei(ALuint source, ALenum param, ALint value) {
  REAL(void, alSourcei, ALuint, ALenum, ALint);
  if (param == AL_BUFFER && source < MAXIDS) source_buffer[source] = (ALuint)value;
  real_alSourcei(source, param, value);
}

static void played(ALuint source) {
  char name[512] = "";
  if (source >= MAXIDS) return;
  pthread_mutex_lock(&lock);
  ALuint b = source_buffer[source];
  if (b && b < MAXIDS && buffer_name[b]) snprintf(name, sizeof name, "%s", buffer_name[b]);
  pthread_mutex_unlock(&lock);
  if (name[0]) log_name(name);
}

void alSourcePlay(ALuint source) {
  REAL(void, alSourcePlay, ALuint);
  played(source);
  real_alSourcePlay(source);
}

void alSourcePlayv(ALsizei n, const ALuint *sources) {
  REAL(void, alSourcePlayv, ALsizei, const ALuint *);
  for (ALsizei i = 0; i < n; i++) played(sources[i]);
  real_alSourcePlayv(n, sources);
}
