// SPDX-License-Identifier: MIT
//go:build !cgo

package main

import "fmt"

// The static build has no C: the case says so in both runs alike.
func caseCgo() int {
	fmt.Println("built without cgo")
	return 0
}
