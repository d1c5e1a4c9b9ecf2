/* The same loop through the C API (ckpt/c.h), built with pkg-config:
 *   cc consumer_c.c $(pkg-config --cflags --libs ckpt) -o consumer_c
 * Exits non-zero on any error or when the restored bytes differ. */
#include <ckpt/c.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char* what, char* err) {
  fprintf(stderr, "consumer_c: %s: %s\n", what, err);
  ckpt_free(err);
  return 1;
}

int main(int argc, char** argv) {
  enum { kCount = 1 << 16 };
  static double weights[kCount], saved[kCount];
  char* err = NULL;
  ckpt_options_t* options;
  ckpt_client_t* client;
  ckpt_ticket_t* ticket;
  uint64_t step;
  size_t i;

  if (argc != 2) {
    fprintf(stderr, "usage: consumer_c STORE_DIR\n");
    return 2;
  }
  for (i = 0; i < kCount; ++i) weights[i] = saved[i] = (double)(i % 101) * 0.5;

  options = ckpt_options_create();
  ckpt_options_set_store_dir(options, argv[1]);
  ckpt_options_set_job(options, "consumer-c");
  ckpt_options_set_staging_bytes(options, (size_t)8 << 20);
  client = ckpt_client_open(options, &err);
  ckpt_options_destroy(options);
  if (err) return fail("open", err);
  ckpt_client_protect(client, "weights", weights, sizeof(weights), CKPT_TYPE_F64, &err);
  if (err) return fail("protect", err);
  ticket = ckpt_client_checkpoint(client, 7, &err);
  if (err) return fail("checkpoint", err);
  ckpt_ticket_wait_copied(ticket, &err);
  ckpt_ticket_destroy(ticket);
  if (err) return fail("wait_copied", err);
  memset(weights, 0, sizeof(weights));
  ckpt_client_flush(client, &err);
  if (err) return fail("flush", err);
  step = ckpt_client_restore_latest(client, &err);
  if (err) return fail("restore", err);
  ckpt_client_close(client);

  if (step != 7 || memcmp(weights, saved, sizeof(weights)) != 0) {
    fprintf(stderr, "consumer_c: restored step %llu does not hold the checkpointed bytes\n",
            (unsigned long long)step);
    return 1;
  }
  printf("consumer_c: checkpointed and restored %zu bytes at step %llu (ckpt %s)\n",
         sizeof(weights), (unsigned long long)step, ckpt_version());
  return 0;
}
