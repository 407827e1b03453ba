package automation

import (
	"os"
	"strings"
	"sync"
)

var machine = sync.OnceValues(func() (string, string) {
	host, _ := os.Hostname()
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return host, strings.TrimSpace(string(boot))
})

// thisMachine names this host and its current boot. A process group
// recorded under another name, or before a reboot, is not ours to kill.
func thisMachine() (host, bootID string) { return machine() }
