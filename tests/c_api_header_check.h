/* The C translation unit c_api_header_check.c, as seen from C++ and C. */
#ifndef CKPT_TESTS_C_API_HEADER_CHECK_H_
#define CKPT_TESTS_C_API_HEADER_CHECK_H_

#ifdef __cplusplus
extern "C" {
#endif

/* Uses the C API from C against a directory that holds no store; returns the
 * number of checks that failed. */
int ckpt_c_header_check(const char* missing_store_dir);

#ifdef __cplusplus
}
#endif

#endif /* CKPT_TESTS_C_API_HEADER_CHECK_H_ */
