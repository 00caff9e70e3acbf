// Command hello prints hello: the command internal/daemon's test builds.
package main

import "fmt"

func main() { fmt.Println("hello") }
