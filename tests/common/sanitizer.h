// EMBER_ASAN is 1 in an AddressSanitizer build, with gcc (__SANITIZE_ADDRESS__) or clang
// (__has_feature(address_sanitizer)): tests that train for seconds in Release skip or shrink there.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define EMBER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMBER_ASAN 1
#endif
#endif
#ifndef EMBER_ASAN
#define EMBER_ASAN 0
#endif
