/* cleanup.h - cleanup attributes for library handles (jansson, libarchive,
 * libcurl, OpenSSL).  common.h stays free of library headers. */
#ifndef PN_CLEANUP_H
#define PN_CLEANUP_H

#include "common.h"

#include <jansson.h>
static inline void cleanup_jsonp(json_t **j)
{
	if (*j) {
		json_decref(*j);
		*j = NULL;
	}
}
#define cleanup_json __attribute__((cleanup(cleanup_jsonp)))

#include <archive.h>
#include <archive_entry.h>
static inline void cleanup_archive_readp(struct archive **a)
{
	if (*a) {
		archive_read_free(*a);
		*a = NULL;
	}
}
static inline void cleanup_archive_writep(struct archive **a)
{
	if (*a) {
		archive_write_free(*a);
		*a = NULL;
	}
}
static inline void cleanup_archive_entryp(struct archive_entry **e)
{
	if (*e) {
		archive_entry_free(*e);
		*e = NULL;
	}
}
#define cleanup_archive_read  __attribute__((cleanup(cleanup_archive_readp)))
#define cleanup_archive_write __attribute__((cleanup(cleanup_archive_writep)))
#define cleanup_archive_entry __attribute__((cleanup(cleanup_archive_entryp)))

#include <curl/curl.h>
static inline void cleanup_curlp(CURL **c)
{
	if (*c) {
		curl_easy_cleanup(*c);
		*c = NULL;
	}
}
static inline void cleanup_curl_slistp(struct curl_slist **s)
{
	if (*s) {
		curl_slist_free_all(*s);
		*s = NULL;
	}
}
#define cleanup_curl	   __attribute__((cleanup(cleanup_curlp)))
#define cleanup_curl_slist __attribute__((cleanup(cleanup_curl_slistp)))

#include <openssl/evp.h>
static inline void cleanup_md_ctxp(EVP_MD_CTX **c)
{
	if (*c) {
		EVP_MD_CTX_free(*c);
		*c = NULL;
	}
}
#define cleanup_md_ctx __attribute__((cleanup(cleanup_md_ctxp)))

#endif
