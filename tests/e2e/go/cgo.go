// SPDX-License-Identifier: MIT
//go:build cgo

// The cgo build: links libc dynamically; Go calls into C and C calls back into libc.
package main

/*
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

static int c_strlen_getpid(const char *s, int *same)
{
	*same = getpid() == getppid() ? 0 : 1;
	return (int)strlen(s);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

func caseCgo() int {
	s := C.CString("through cgo")
	defer C.free(unsafe.Pointer(s))
	var same C.int
	n := C.c_strlen_getpid(s, &same)
	fmt.Println("cgo strlen", int(n), "getpid != getppid:", same == 1)
	return 0
}
