/*
 * isoc23_shim.c - stand-ins for glibc 2.38's C23 parsers, for glibc < 2.38.
 *
 * nbis-python's bundled OpenCV (libopencv_core.so.413) was built against
 * glibc >= 2.38, whose headers send sscanf/strtol/strtoll/strtoull to the
 * __isoc23_* entry points (new in GLIBC_2.38).  patch_nbis.py strips the
 * GLIBC_2.38 version from those four imports and adds this library to the
 * core library's DT_NEEDED, so the loader binds them here instead.
 *
 * Each function forwards to the classic ISO C function.  The only
 * behavioural difference from glibc 2.38 is that the C23 versions also accept
 * a "0b"/"0B" binary prefix (base 0 or 2, and %i / %b in scanf); OpenCV only
 * uses these for decimal/hex configuration and file-storage values.
 *
 * Build (done by patch_nbis.py): cc -shared -fPIC -O2 -o libnbis_isoc23_shim.so isoc23_shim.c
 *
 * Do NOT build with _GNU_SOURCE or -std=c2x/gnu2x on glibc >= 2.38: the
 * headers would then redirect strtol() & co. to __isoc23_strtol() itself and
 * the forwarders would call themselves.  The #error below guards that.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __GLIBC_USE
#if __GLIBC_USE(C2X_STRTOL) || __GLIBC_USE(C23_STRTOL)
#error "<stdlib.h> redirects strtol to __isoc23_strtol in this mode; build without _GNU_SOURCE / -std=c2x"
#endif
#endif

#define SHIM_EXPORT __attribute__((visibility("default")))

SHIM_EXPORT int __isoc23_sscanf(const char *s, const char *format, ...)
{
    va_list ap;
    int ret;

    va_start(ap, format);
    ret = vsscanf(s, format, ap);
    va_end(ap);
    return ret;
}

SHIM_EXPORT long __isoc23_strtol(const char *nptr, char **endptr, int base)
{
    return strtol(nptr, endptr, base);
}

SHIM_EXPORT long long __isoc23_strtoll(const char *nptr, char **endptr, int base)
{
    return strtoll(nptr, endptr, base);
}

SHIM_EXPORT unsigned long long __isoc23_strtoull(const char *nptr, char **endptr, int base)
{
    return strtoull(nptr, endptr, base);
}
