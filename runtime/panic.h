/*
 * weft__panic: abort with a message naming the call, for misuse that cannot
 * be reported as an error value (joining twice, unlocking a mutex not held).
 */
#ifndef WEFT_RUNTIME_PANIC_H
#define WEFT_RUNTIME_PANIC_H

__attribute__((noreturn, format(printf, 1, 2), cold))
void weft__panic(const char *fmt, ...);

#endif /* WEFT_RUNTIME_PANIC_H */
