package main

import "os"

// ownedBy cannot tell file owners on Windows; the private directory is
// trusted by its mode alone there.
func ownedBy(os.FileInfo, int) bool { return true }
