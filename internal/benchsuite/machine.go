//go:build linux

package main

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where the suite ran.
type machine struct {
	Date   time.Time
	CPUs   int
	Kernel string
	CPU    string
	Go     string
	CC     string // the C compiler's first version line, or ""
	Socat  string // socat's version line, or ""
	OS     string
}

func describeMachine(ccPath, socatPath string) machine {
	m := machine{
		Date:   time.Now().UTC(),
		CPUs:   runtime.NumCPU(),
		Kernel: strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		Go:     runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH,
	}
	for _, line := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			m.CPU = strings.TrimSpace(v)
			break
		}
	}
	for _, line := range strings.Split(readFile("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			m.OS = strings.Trim(v, `"`)
		}
	}
	if ccPath != "" {
		m.CC = firstLine(ccPath, "--version")
	}
	if socatPath != "" {
		for _, line := range strings.Split(output(socatPath, "-V"), "\n") {
			if strings.HasPrefix(line, "socat version") {
				m.Socat = strings.TrimSpace(line)
				break
			}
		}
	}
	return m
}

// readFile returns a file's contents, or "" if it cannot be read: machine
// facts are nice to have, never a reason to fail.
func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

func output(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func firstLine(argv ...string) string {
	s, _, _ := strings.Cut(output(argv...), "\n")
	return strings.TrimSpace(s)
}
