package shell

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Landlock calls are made through golang.org/x/sys/unix rather than
// go-landlock: every go-landlock package imports libcap's psx, which under
// cgo wraps pthread_create for the whole binary so that it can change all
// threads at once, the very thing a per-thread sandbox must not do.

// Landlock access rights, grouped by what a step may do with a path.
const (
	accessRead = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	accessExec = accessRead | unix.LANDLOCK_ACCESS_FS_EXECUTE
	// accessWrite deliberately lacks EXECUTE: a step cannot run a program
	// it has just written or downloaded.
	accessWrite = accessRead | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM | unix.LANDLOCK_ACCESS_FS_REFER |
		unix.LANDLOCK_ACCESS_FS_TRUNCATE
	accessDevice = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	// fileAccess are the rights the kernel accepts on a rule for a file
	// rather than a folder.
	fileAccess = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE |
		unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
)

// erratumSignalThreads is Landlock erratum 2: signal scoping lets the
// threads of one process signal each other. Without it a confined thread
// of Firebreak could not signal the runtime's other threads (preemption),
// so signals are scoped only where the fix is present.
const erratumSignalThreads = 1 << 1

// systemPaths are what bash and the usual tools (kubectl, grep, sort, jq,
// curl) need: programs, libraries, /etc for the linker cache, name
// resolution, time zones and CA certificates, and read-only /proc. The
// files under /etc are listed again because each may be a symbolic link
// out of /etc (resolv.conf into /run, for one), and a rule follows it.
// /sys, /run, /var, /home and /tmp are not granted.
var systemPaths = []grant{
	{path: "/usr", access: accessExec},
	{path: "/bin", access: accessExec},
	{path: "/sbin", access: accessExec},
	{path: "/lib", access: accessExec},
	{path: "/lib32", access: accessExec},
	{path: "/lib64", access: accessExec},
	{path: "/libx32", access: accessExec},
	{path: "/opt", access: accessExec},
	{path: "/etc", access: accessRead},
	{path: "/etc/resolv.conf", access: accessRead},
	{path: "/etc/hosts", access: accessRead},
	{path: "/etc/nsswitch.conf", access: accessRead},
	{path: "/etc/localtime", access: accessRead},
	{path: "/etc/ssl/certs/ca-certificates.crt", access: accessRead},
	// Other processes' secrets in /proc (environ, mem, fd, cwd, root) sit
	// behind ptrace checks, and Landlock refuses those for any process
	// outside the step's domain, Firebreak included.
	{path: "/proc", access: accessRead},
	{path: "/dev/null", access: accessDevice},
	{path: "/dev/zero", access: accessDevice},
	{path: "/dev/full", access: accessDevice},
	{path: "/dev/random", access: unix.LANDLOCK_ACCESS_FS_READ_FILE},
	{path: "/dev/urandom", access: unix.LANDLOCK_ACCESS_FS_READ_FILE},
}

// grant is a path a step may use.
type grant struct {
	path   string
	access uint64
	// strict grants come from configuration or the caller: one that lies
	// in a denied path is an error instead of being left out.
	strict bool
	// own marks the scratch folder Run created: it is granted even inside
	// a denied path (TMPDIR under the data directory), since it holds
	// nothing but the step's own files.
	own bool
}

// rule is a resolved path and the rights granted beneath it.
type rule struct {
	path   string
	access uint64
}

// SandboxStatus describes how shell steps are confined, for /readyz and the
// logs: "landlock ABI 7 (filesystem, abstract UNIX sockets, signals)", or a
// string starting "none: " with the reason when the kernel offers no
// Landlock and steps run unconfined.
func SandboxStatus() string {
	abi, errata, err := landlockABI()
	if err != nil {
		return "none: " + err.Error() + "; shell steps run unconfined"
	}
	scopes := []string{"filesystem"}
	if abi >= 6 {
		scopes = append(scopes, "abstract UNIX sockets")
		if errata&erratumSignalThreads != 0 {
			scopes = append(scopes, "signals")
		}
	}
	return fmt.Sprintf("landlock ABI %d (%s)", abi, strings.Join(scopes, ", "))
}

// landlockABI reports the kernel's Landlock ABI version and fixed errata.
func landlockABI() (abi, errata int, err error) {
	v, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	switch {
	case e == unix.ENOSYS:
		return 0, 0, errors.New("this kernel has no Landlock (ENOSYS)")
	case e == unix.EOPNOTSUPP:
		return 0, 0, errors.New("Landlock is built in but disabled (add landlock to the lsm= boot parameter)")
	case e != 0:
		return 0, 0, fmt.Errorf("Landlock: %w", e)
	}
	// Kernels before the errata query answer EINVAL: no errata fixed.
	if n, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_ERRATA); e == 0 {
		errata = int(n)
	}
	return int(v), errata, nil
}

// grants lists what a step may use: bash is the shell to run, dir the
// working directory (own when Run created it), env the step's environment,
// which names the kubeconfig kubectl will read.
func (r *Runner) grants(req *Request, bash, dir string, own bool, env []string) []grant {
	gs := slices.Clone(systemPaths)
	if bash != "" {
		gs = append(gs, grant{path: bash, access: accessExec})
	}
	// kubectl reads $KUBECONFIG, or ~/.kube/config without it.
	if kc := lookupEnv(env, "KUBECONFIG"); kc != "" {
		for _, p := range filepath.SplitList(kc) {
			if filepath.IsAbs(p) {
				gs = append(gs, grant{path: p, access: accessRead, strict: true})
			}
		}
	} else if home := lookupEnv(env, "HOME"); home != "" {
		gs = append(gs, grant{path: filepath.Join(home, ".kube", "config"), access: accessRead})
	}
	for _, p := range r.ReadablePaths {
		gs = append(gs, grant{path: p, access: accessExec, strict: true})
	}
	if req.Write {
		for _, p := range r.WritablePaths {
			gs = append(gs, grant{path: p, access: accessWrite, strict: true})
		}
	}
	if dir != "" {
		gs = append(gs, grant{path: dir, access: accessWrite, strict: true, own: own})
	}
	return gs
}

// rules resolves grants into Landlock rules, leaving out every denied path.
//
// Landlock only adds rights, so a granted folder that contains a denied
// path cannot be granted whole: its other entries are granted one by one
// instead, descending towards the denied path, and the folders on the way
// (and symbolic links among the entries) are not granted at all. A step
// can therefore not list /etc when the configuration lives in
// /etc/firebreak, but can read everything else in /etc.
//
// A grant that lies inside a denied path is left out, or is an error for
// strict grants.
func rules(gs []grant, denyPaths []string) ([]rule, error) {
	deny := make([]string, 0, len(denyPaths))
	for _, p := range denyPaths {
		real, err := resolve(p)
		if err != nil {
			return nil, fmt.Errorf("shell: sandbox: denied path %s: %w", p, err)
		}
		deny = append(deny, real)
	}
	var out []rule
	for _, g := range gs {
		if !filepath.IsAbs(g.path) {
			if g.strict {
				return nil, fmt.Errorf("shell: sandbox: %q is not an absolute path", g.path)
			}
			continue
		}
		real, err := resolve(g.path)
		if err != nil {
			if g.strict {
				return nil, fmt.Errorf("shell: sandbox: %w", err)
			}
			continue
		}
		if d, ok := within(real, deny); ok && !(g.own && real != d) {
			if g.strict {
				return nil, fmt.Errorf("shell: sandbox: %s is inside %s, which steps may never access", g.path, d)
			}
			continue
		}
		if _, err := os.Lstat(real); err != nil {
			continue // nothing there (yet) to use
		}
		if out, err = appendRules(out, real, g.access, deny); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// appendRules grants path, or its entries except the denied ones when a
// denied path lies beneath it.
func appendRules(out []rule, path string, access uint64, deny []string) ([]rule, error) {
	below := false
	for _, d := range deny {
		if d != path && isWithin(d, path) {
			below = true
		}
	}
	if !below {
		return append(out, rule{path: path, access: access}), nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("shell: sandbox: list %s to grant all of it but the denied paths: %w", path, err)
	}
	for _, e := range entries {
		child := filepath.Join(path, e.Name())
		if e.Type()&fs.ModeSymlink != 0 || slices.Contains(deny, child) {
			continue
		}
		if out, err = appendRules(out, child, access, deny); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// resolve makes p absolute and resolves symbolic links. A path that does
// not exist yet is resolved as far as it exists: a denied one is then
// still denied once created, and a grant inside one is still refused.
func resolve(p string) (string, error) {
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(p)
	if err == nil {
		return real, nil
	}
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) || p == "/" {
		return "", err
	}
	parent, err := resolve(filepath.Dir(p))
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, filepath.Base(p)), nil
}

// within reports the first of roots that p equals or lies beneath.
func within(p string, roots []string) (string, bool) {
	for _, r := range roots {
		if isWithin(p, r) {
			return r, true
		}
	}
	return "", false
}

func isWithin(p, root string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

func lookupEnv(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// handledAccess is every filesystem right the ABI knows: what is not
// granted by a rule is then denied.
func handledAccess(abi int) uint64 {
	switch {
	case abi >= 5:
		return 1<<16 - 1 // up to IOCTL_DEV
	case abi >= 3:
		return 1<<15 - 1 // up to TRUNCATE
	case abi == 2:
		return 1<<14 - 1 // up to REFER
	default:
		return 1<<13 - 1
	}
}

// newRuleset builds a Landlock ruleset from rules. The caller closes the
// descriptor.
func newRuleset(abi, errata int, rules []rule) (int, error) {
	handled := handledAccess(abi)
	attr := unix.LandlockRulesetAttr{Handled_access_fs: uint64(handled)}
	if abi >= 6 {
		attr.Scoped = unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
		if errata&erratumSignalThreads != 0 {
			attr.Scoped |= unix.LANDLOCK_SCOPE_SIGNAL
		}
	}
	// Pass only the fields up to Scoped; older kernels accept a longer
	// struct as long as the unknown tail is zero.
	size := unsafe.Offsetof(attr.Quiet_access_fs)
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if e != 0 {
		return -1, fmt.Errorf("shell: sandbox: create Landlock ruleset: %w", e)
	}
	ruleset := int(fd)
	for _, ru := range rules {
		if err := addRule(ruleset, ru, handled); err != nil {
			unix.Close(ruleset)
			return -1, err
		}
	}
	return ruleset, nil
}

func addRule(ruleset int, ru rule, handled uint64) error {
	// The path is already resolved: refusing symbolic links on the way
	// means a link swapped in since cannot redirect the grant.
	fd, err := unix.Openat2(unix.AT_FDCWD, ru.path, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if errors.Is(err, unix.ENOENT) {
		return nil // removed since it was listed
	}
	if err != nil {
		return fmt.Errorf("shell: sandbox: open %s: %w", ru.path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("shell: sandbox: stat %s: %w", ru.path, err)
	}
	access := ru.access & handled
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		access &= fileAccess
	}
	if access == 0 {
		return nil
	}
	attr := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(fd)}
	_, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&attr)), 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return fmt.Errorf("shell: sandbox: grant %s: %w", ru.path, e)
	}
	return nil
}

// droppedCaps are capabilities a step run as root loses, because each
// reaches past the sandbox: CAP_SYS_ADMIN and CAP_PERFMON let a process
// read another's /proc environ and maps (Firebreak's environment holds DSNs)
// despite Landlock, and the others load kernel code, reach memory or
// hardware directly, or override the LSM.
var droppedCaps = []uintptr{
	unix.CAP_SYS_ADMIN, unix.CAP_PERFMON, unix.CAP_BPF, unix.CAP_SYS_PTRACE,
	unix.CAP_SYS_MODULE, unix.CAP_SYS_RAWIO, unix.CAP_MAC_ADMIN,
	unix.CAP_MAC_OVERRIDE, unix.CAP_SYSLOG,
}

// confineThread puts the calling OS thread, and every process it forks
// from now on, under ruleset. It must run on a locked thread that is never
// unlocked: the Go runtime then ends the thread with its goroutine instead
// of reusing it for Firebreak's own code. no_new_privs, capabilities and
// the Landlock domain are all per thread.
func confineThread(ruleset int) error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	// With no_new_privs, file capabilities are ignored at exec; without
	// ambient ones, a process not run as root starts with none at all.
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	// Root gets its bounding set at exec, so that is where to drop.
	// Dropping needs CAP_SETPCAP, which a server not run as root lacks,
	// but then the step gets no capability anyway.
	for _, c := range droppedCaps {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && (unix.Geteuid() == 0 || err != unix.EPERM) && err != unix.EINVAL {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(ruleset), 0, 0); e != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", e)
	}
	return nil
}

// Check reports a configured path the sandbox cannot honour: one that is
// not absolute, or that lies inside a denied path. Run makes the same
// checks; Check lets the server refuse a bad configuration at start.
func (r *Runner) Check() error {
	for _, p := range r.DenyPaths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("shell: sandbox: denied path %q is not absolute", p)
		}
	}
	req := Request{Write: true}
	_, err := rules(r.grants(&req, r.Shell, "", false, r.environ(nil, "")), r.DenyPaths)
	return err
}
