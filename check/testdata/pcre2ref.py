#!/usr/bin/env python3
"""Matches as keepalived 2.2.7's check_regex does, with the system's
libpcre2-8 (keepalived links it): pcre2_compile with the regex_options,
pcre2_jit_compile for PCRE2_JIT_PARTIAL_HARD, pcre2_jit_match with
PCRE2_PARTIAL_HARD from a start offset.

Reads JSON lines [pattern, [options], subject, start] (pattern and subject
as Latin-1 strings: one character a byte) and writes one JSON line each:
["match", start], ["partial", start], ["none", 0] or ["compile-error"].
check's TestRegexMatchPCRE2 runs it."""
import ctypes
import json
import sys

lib = ctypes.CDLL("libpcre2-8.so.0")
lib.pcre2_compile_8.restype = ctypes.c_void_p
lib.pcre2_compile_8.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32,
                                ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_size_t), ctypes.c_void_p]
lib.pcre2_jit_compile_8.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
lib.pcre2_match_data_create_from_pattern_8.restype = ctypes.c_void_p
lib.pcre2_match_data_create_from_pattern_8.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
lib.pcre2_jit_match_8.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_size_t,
                                  ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p]
lib.pcre2_get_ovector_pointer_8.restype = ctypes.POINTER(ctypes.c_size_t)
lib.pcre2_get_ovector_pointer_8.argtypes = [ctypes.c_void_p]
lib.pcre2_code_free_8.argtypes = [ctypes.c_void_p]
lib.pcre2_match_data_free_8.argtypes = [ctypes.c_void_p]

# pcre2.h's values for keepalived's regex_options names.
OPTIONS = {
    "caseless": 0x8, "dollar_endonly": 0x10, "dotall": 0x20, "extended": 0x80, "multiline": 0x400,
    "ungreedy": 0x40000, "alt_circumflex": 0x200000, "no_start_optimize": 0x10000,
}
JIT_PARTIAL_HARD = 0x4
PARTIAL_HARD = 0x20
ERROR_NOMATCH, ERROR_PARTIAL = -1, -2


def run(pattern, options, subject, start):
    bits = 0
    for o in options:
        bits |= OPTIONS[o]
    err, off = ctypes.c_int(), ctypes.c_size_t()
    code = lib.pcre2_compile_8(pattern, len(pattern), bits, ctypes.byref(err), ctypes.byref(off), None)
    if not code:
        return ["compile-error"]
    try:
        if lib.pcre2_jit_compile_8(code, JIT_PARTIAL_HARD) != 0:
            return ["compile-error"]
        md = lib.pcre2_match_data_create_from_pattern_8(code, None)
        try:
            rc = lib.pcre2_jit_match_8(code, subject, len(subject), start, PARTIAL_HARD, md, None)
            ov = lib.pcre2_get_ovector_pointer_8(md)
            if rc == ERROR_PARTIAL:
                return ["partial", ov[0]]
            if rc == ERROR_NOMATCH:
                return ["none", 0]
            if rc < 0:
                return ["error", rc]
            return ["match", ov[0]]
        finally:
            lib.pcre2_match_data_free_8(md)
    finally:
        lib.pcre2_code_free_8(code)


for line in sys.stdin:
    pattern, options, subject, start = json.loads(line)
    print(json.dumps(run(pattern.encode("latin-1"), options, subject.encode("latin-1"), start)))
