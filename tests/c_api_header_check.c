/* Compiled as C (C99, -Wpedantic -Werror): ckpt/c.h must be a valid C header.
 * c_api_test.cc calls this function, so it is linked and run as well. */
#include "ckpt/c.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "c_api_header_check.h"

int ckpt_c_header_check(const char* missing_store_dir) {
  int failures = 0;
  char* err = NULL;
  ckpt_options_t* options = ckpt_options_create();
  ckpt_client_t* client = NULL;
  ckpt_store_t* store = NULL;

  if (options == NULL) return 1;
  ckpt_options_set_store_dir(options, missing_store_dir);
  ckpt_options_set_job(options, "c-check");
  ckpt_options_set_create_if_missing(options, 0);
  ckpt_options_set_compression(options, CKPT_COMPRESSION_ZSTD);

  /* No store there, and creating one is off: open fails with a message. */
  client = ckpt_client_open(options, &err);
  if (client != NULL || err == NULL) ++failures;
  ckpt_free(err);
  err = NULL;
  ckpt_client_close(client);
  ckpt_options_destroy(options);

  store = ckpt_store_open_read_only(missing_store_dir, &err);
  if (store != NULL || err == NULL || strncmp(err, "not found: ", 11) != 0) ++failures;
  ckpt_free(err);
  ckpt_store_close(store);

  if (ckpt_element_size(CKPT_TYPE_F64) != 8 || ckpt_element_size(CKPT_TYPE_BYTES) != 1) {
    ++failures;
  }
  if (ckpt_version() == NULL || ckpt_version()[0] == '\0') ++failures;
  return failures;
}
