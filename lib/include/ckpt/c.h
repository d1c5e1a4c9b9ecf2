/* ckpt/c.h: the C API of ckpt, for FFI users (ctypes, cffi, Rust, Go, Julia ...).
 *
 * A thin layer over the C++ API (ckpt/client.h, ckpt/store.h); read those for
 * the semantics of each call. Conventions, as in LevelDB's c.h:
 *
 *  - Every object is an opaque handle made by a *_create / *_open function and
 *    released by the matching *_destroy / *_close function. Passing NULL to a
 *    destroy or close function does nothing.
 *  - A function that can fail takes `char** errptr` as its last argument. Call
 *    it with *errptr == NULL. On success *errptr is left untouched; on failure
 *    it is set to a malloc()ed, NUL-terminated message "<code>: <text>", e.g.
 *    "not found: job 'run7' has no checkpoint" (the code names are those of
 *    ckpt::CodeName: "invalid argument", "not found", "corruption", "I/O error",
 *    "no space left", "busy", ...). A message already in *errptr is freed
 *    first. Release the message with ckpt_free().
 *  - Booleans are unsigned char (0 or 1). Sizes are size_t, steps uint64_t.
 *  - Strings passed in are copied; strings returned are owned by the object
 *    they come from and live as long as it does.
 *  - No function throws or aborts on bad input; memory exhaustion inside the
 *    library is reported through errptr where there is one.
 *
 * Thread safety: as in the C++ API. A client may be used from several threads;
 * options objects and lists must not be changed while another thread reads them.
 *
 * A training loop:
 *
 *   char* err = NULL;
 *   ckpt_options_t* opt = ckpt_options_create();
 *   ckpt_options_set_store_dir(opt, "/ckpt");
 *   ckpt_options_set_job(opt, "run7");
 *   ckpt_options_set_checkpoint_every_steps(opt, 100);
 *   ckpt_client_t* client = ckpt_client_open(opt, &err);
 *   ckpt_options_destroy(opt);
 *   if (err) { fprintf(stderr, "%s\n", err); ckpt_free(err); return 1; }
 *   ckpt_client_protect(client, "weights", w, n * sizeof(float), CKPT_TYPE_F32, &err);
 *   uint64_t step = 0, restored;
 *   if (ckpt_client_latest_step(client, &restored)) {
 *     step = ckpt_client_restore_latest(client, &err) + 1;
 *   }
 *   ckpt_ticket_t* ticket = NULL;
 *   for (; step < steps && !err; ++step) {
 *     ... forward, backward ...
 *     if (ticket) { ckpt_ticket_wait_copied(ticket, &err); ckpt_ticket_destroy(ticket); ticket = NULL; }
 *     ... optimizer update ...
 *     if (ckpt_client_should_checkpoint(client, step)) ticket = ckpt_client_checkpoint(client, step, &err);
 *   }
 *   ckpt_ticket_destroy(ticket);
 *   ckpt_client_flush(client, &err);
 *   ckpt_client_close(client);
 */
#ifndef CKPT_C_H_
#define CKPT_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CKPT_C_EXPORT __attribute__((visibility("default")))
#else
#define CKPT_C_EXPORT
#endif

/* ---- handles ---- */

typedef struct ckpt_options_t ckpt_options_t;
typedef struct ckpt_client_t ckpt_client_t;
typedef struct ckpt_ticket_t ckpt_ticket_t;
typedef struct ckpt_store_t ckpt_store_t;
typedef struct ckpt_checkpoint_list_t ckpt_checkpoint_list_t;
typedef struct ckpt_fault_list_t ckpt_fault_list_t;

/* ---- constants ---- */

/* Element types of protected regions (values of ckpt::ElementType, as stored
 * on disk). */
enum {
  CKPT_TYPE_BYTES = 0, /* opaque bytes */
  CKPT_TYPE_I8 = 1,
  CKPT_TYPE_U8 = 2,
  CKPT_TYPE_I16 = 3,
  CKPT_TYPE_U16 = 4,
  CKPT_TYPE_I32 = 5,
  CKPT_TYPE_U32 = 6,
  CKPT_TYPE_I64 = 7,
  CKPT_TYPE_U64 = 8,
  CKPT_TYPE_F16 = 9,
  CKPT_TYPE_BF16 = 10,
  CKPT_TYPE_F32 = 11,
  CKPT_TYPE_F64 = 12
};

/* Compression of stored chunks (ckpt::Compression). */
enum {
  CKPT_COMPRESSION_OFF = 0,
  CKPT_COMPRESSION_ZSTD = 1
};

/* ---- general ---- */

/* Frees a string returned through errptr (or any pointer this API documents as
 * released with ckpt_free). */
CKPT_C_EXPORT void ckpt_free(void* ptr);

/* ckpt's version, e.g. "0.1.0". Static storage. */
CKPT_C_EXPORT const char* ckpt_version(void);

/* Bytes per element of a CKPT_TYPE_* value (1 for CKPT_TYPE_BYTES); 0 for a
 * value that is no element type. */
CKPT_C_EXPORT size_t ckpt_element_size(int type);

/* ---- options (ckpt::Options) ---- */

/* Defaults as in ckpt/options.h: 4 MiB chunks, zstd level 1, 256 MiB staging,
 * no checkpoint interval, store created when missing, O_DIRECT tried. */
CKPT_C_EXPORT ckpt_options_t* ckpt_options_create(void);
CKPT_C_EXPORT void ckpt_options_destroy(ckpt_options_t* options);
CKPT_C_EXPORT void ckpt_options_set_store_dir(ckpt_options_t* options, const char* dir);
CKPT_C_EXPORT void ckpt_options_set_job(ckpt_options_t* options, const char* job);
CKPT_C_EXPORT void ckpt_options_set_chunk_bytes(ckpt_options_t* options, size_t bytes);
/* CKPT_COMPRESSION_OFF or CKPT_COMPRESSION_ZSTD; another value makes
 * ckpt_client_open fail with "invalid argument". */
CKPT_C_EXPORT void ckpt_options_set_compression(ckpt_options_t* options, int compression);
CKPT_C_EXPORT void ckpt_options_set_zstd_level(ckpt_options_t* options, int level);
CKPT_C_EXPORT void ckpt_options_set_staging_bytes(ckpt_options_t* options, size_t bytes);
CKPT_C_EXPORT void ckpt_options_set_checkpoint_every_steps(ckpt_options_t* options,
                                                           uint64_t steps);
CKPT_C_EXPORT void ckpt_options_set_create_if_missing(ckpt_options_t* options,
                                                      unsigned char value);
CKPT_C_EXPORT void ckpt_options_set_use_direct_io(ckpt_options_t* options, unsigned char value);

/* ---- client (ckpt::Client) ---- */

/* Opens the store (creating it unless create_if_missing is off) and starts the
 * engine. NULL on failure. */
CKPT_C_EXPORT ckpt_client_t* ckpt_client_open(const ckpt_options_t* options, char** errptr);

/* Waits for checkpoints in flight and stops the engine. Call
 * ckpt_client_flush first to learn whether they succeeded. */
CKPT_C_EXPORT void ckpt_client_close(ckpt_client_t* client);

/* Registers `bytes` bytes at `data` under `name`; `type` is a CKPT_TYPE_*
 * value. The memory must stay valid while the client may copy it. */
CKPT_C_EXPORT void ckpt_client_protect(ckpt_client_t* client, const char* name, void* data,
                                       size_t bytes, int type, char** errptr);

/* The same, recording the region's tensor shape (`rank` dimensions at `dims`,
 * outermost first; rank 0 is a scalar, and dims may then be NULL). The
 * product of the dimensions times the element size must equal `bytes`. */
CKPT_C_EXPORT void ckpt_client_protect_shaped(ckpt_client_t* client, const char* name,
                                              void* data, size_t bytes, int type,
                                              const uint64_t* dims, size_t rank, char** errptr);

/* Asks for a checkpoint of every protected region and returns at once. NULL on
 * failure; otherwise a ticket to release with ckpt_ticket_destroy. */
CKPT_C_EXPORT ckpt_ticket_t* ckpt_client_checkpoint(ckpt_client_t* client, uint64_t step,
                                                    char** errptr);

/* Fills every protected region from the newest committed checkpoint (falling
 * back to the newest intact one when it is damaged) and returns the step
 * restored. When the job has no checkpoint: "not found: ..." in *errptr.
 * Returns 0 on failure. */
CKPT_C_EXPORT uint64_t ckpt_client_restore_latest(ckpt_client_t* client, char** errptr);

/* Fills every protected region from checkpoint `step`. */
CKPT_C_EXPORT void ckpt_client_restore_step(ckpt_client_t* client, uint64_t step, char** errptr);

/* 1 and *step set when the job has a committed checkpoint; 0 otherwise. */
CKPT_C_EXPORT unsigned char ckpt_client_latest_step(const ckpt_client_t* client, uint64_t* step);

/* 1 when the policy says to checkpoint after `step`. */
CKPT_C_EXPORT unsigned char ckpt_client_should_checkpoint(const ckpt_client_t* client,
                                                          uint64_t step);

/* Waits until every requested checkpoint is durable or failed; reports the
 * first failure since the last flush. */
CKPT_C_EXPORT void ckpt_client_flush(ckpt_client_t* client, char** errptr);

/* ---- ticket (ckpt::Ticket): one requested checkpoint ---- */

/* Releases the handle; the checkpoint itself goes on. */
CKPT_C_EXPORT void ckpt_ticket_destroy(ckpt_ticket_t* ticket);
CKPT_C_EXPORT uint64_t ckpt_ticket_step(const ckpt_ticket_t* ticket);
/* Blocks until the snapshot is in staging memory: the regions may be changed
 * again once it returns. */
CKPT_C_EXPORT void ckpt_ticket_wait_copied(const ckpt_ticket_t* ticket, char** errptr);
/* Blocks until the checkpoint is committed or has failed. */
CKPT_C_EXPORT void ckpt_ticket_wait_durable(const ckpt_ticket_t* ticket, char** errptr);
CKPT_C_EXPORT unsigned char ckpt_ticket_copied(const ckpt_ticket_t* ticket);
CKPT_C_EXPORT unsigned char ckpt_ticket_durable(const ckpt_ticket_t* ticket);
CKPT_C_EXPORT unsigned char ckpt_ticket_finished(const ckpt_ticket_t* ticket);
/* Without blocking: sets *errptr when the checkpoint has failed. */
CKPT_C_EXPORT void ckpt_ticket_status(const ckpt_ticket_t* ticket, char** errptr);
/* Meaningful once durable: bytes of all regions, bytes newly stored. */
CKPT_C_EXPORT uint64_t ckpt_ticket_logical_bytes(const ckpt_ticket_t* ticket);
CKPT_C_EXPORT uint64_t ckpt_ticket_written_bytes(const ckpt_ticket_t* ticket);

/* ---- store (ckpt::Store), read-only: what the tools see ---- */

/* Opens an existing store without taking the writer lock (a running job may
 * write it meanwhile). NULL on failure ("not found" when there is no store). */
CKPT_C_EXPORT ckpt_store_t* ckpt_store_open_read_only(const char* dir, char** errptr);
CKPT_C_EXPORT void ckpt_store_close(ckpt_store_t* store);

/* Committed checkpoints of `job` (of every job when job is NULL or ""),
 * oldest first. NULL on failure. */
CKPT_C_EXPORT ckpt_checkpoint_list_t* ckpt_store_list(const ckpt_store_t* store, const char* job,
                                                      char** errptr);
CKPT_C_EXPORT void ckpt_checkpoint_list_destroy(ckpt_checkpoint_list_t* list);
CKPT_C_EXPORT size_t ckpt_checkpoint_list_count(const ckpt_checkpoint_list_t* list);
/* Accessors of checkpoint i < count; out-of-range indices give 0 / NULL. */
CKPT_C_EXPORT const char* ckpt_checkpoint_list_job(const ckpt_checkpoint_list_t* list, size_t i);
CKPT_C_EXPORT uint64_t ckpt_checkpoint_list_step(const ckpt_checkpoint_list_t* list, size_t i);
CKPT_C_EXPORT int64_t ckpt_checkpoint_list_created_unix_ms(const ckpt_checkpoint_list_t* list,
                                                           size_t i);
CKPT_C_EXPORT uint64_t ckpt_checkpoint_list_logical_bytes(const ckpt_checkpoint_list_t* list,
                                                          size_t i);
CKPT_C_EXPORT uint64_t ckpt_checkpoint_list_written_bytes(const ckpt_checkpoint_list_t* list,
                                                          size_t i);
CKPT_C_EXPORT size_t ckpt_checkpoint_list_region_count(const ckpt_checkpoint_list_t* list,
                                                       size_t i);
/* Region r < region_count of checkpoint i. The type accessor gives -1 when out
 * of range. */
CKPT_C_EXPORT const char* ckpt_checkpoint_list_region_name(const ckpt_checkpoint_list_t* list,
                                                           size_t i, size_t r);
CKPT_C_EXPORT int ckpt_checkpoint_list_region_type(const ckpt_checkpoint_list_t* list, size_t i,
                                                   size_t r);
CKPT_C_EXPORT uint64_t ckpt_checkpoint_list_region_bytes(const ckpt_checkpoint_list_t* list,
                                                         size_t i, size_t r);

/* Reads back every chunk of checkpoint (job, step) and checks it. Returns the
 * damaged chunks found (an empty list when the checkpoint is sound); NULL with
 * *errptr set when verification could not run (e.g. no such checkpoint). */
CKPT_C_EXPORT ckpt_fault_list_t* ckpt_store_verify(const ckpt_store_t* store, const char* job,
                                                   uint64_t step, char** errptr);
CKPT_C_EXPORT void ckpt_fault_list_destroy(ckpt_fault_list_t* faults);
CKPT_C_EXPORT size_t ckpt_fault_list_count(const ckpt_fault_list_t* faults);
/* Fault i < count: the region, the chunk index within it, and a one-line
 * description naming job, step, region, chunk, segment file and what is wrong. */
CKPT_C_EXPORT const char* ckpt_fault_list_region(const ckpt_fault_list_t* faults, size_t i);
CKPT_C_EXPORT uint64_t ckpt_fault_list_chunk_index(const ckpt_fault_list_t* faults, size_t i);
CKPT_C_EXPORT const char* ckpt_fault_list_describe(const ckpt_fault_list_t* faults, size_t i);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CKPT_C_H_ */
