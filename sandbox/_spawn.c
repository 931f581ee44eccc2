/* The fork of a block's process and its confinement, with no Python code between the two.
 *
 * Every page a forked CPython process writes is a copy-on-write fault (a copy of the zygote's page), and
 * Python code writes pages wherever it runs: reference counts of the functions, ints and strings it touches.
 * A block's process used to spend ~75 such faults and ~0.2 ms of its CPU on its set-up through `os`,
 * `resource` and `ctypes` calls. Here the same steps are plain system calls on values read before the fork,
 * in the order of the Python path they replace (`sandbox.child.prepare_in_python`):
 *
 *   parent-death signal, descriptors moved to fixed numbers (every other one closed but the Landlock
 *   ruleset), heap faulted in (`sandbox.prewarm.prefault`), rlimits, Landlock, seccomp,
 *
 * and only then does the child return to Python (after `PyOS_AfterFork_Child`, as `os.fork` does). A step
 * that fails writes one line to the block's stderr pipe and exits with status 71, before any untrusted code.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REQUEST_FD 4 /* sandbox.child.REQUEST_FD */
#define RESULT_FD 3  /* sandbox.child.RESULT_FD */
#define MAX_RLIMITS 16
#define PREFAULT_CHUNK (8 << 20) /* sandbox.prewarm.CHUNK: below malloc's mmap threshold */
#define MAX_CHUNKS 64
#define SETUP_FAILED 71
#define ORPHANED 72
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

struct setup {
    int orphan_guard;
    int landlock_fd;
    const char *bpf; /* borrowed from a bytes object the caller keeps alive */
    Py_ssize_t bpf_len;
    int nlimits;
    int resources[MAX_RLIMITS];
    unsigned long long limits[MAX_RLIMITS];
    size_t prefault;
};

static void fail(const char *step, int err) {
    char line[160];
    int n = snprintf(line, sizeof line, "sandbox setup failed: %s: %s\n", step, strerror(err));
    if (n > 0) {
        ssize_t ignored = write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        (void)ignored;
    }
    _exit(SETUP_FAILED);
}

/* Into place: request on 4, stdout 1, stderr 2, report 3 (fd 0 is /dev/null already); every other
 * descriptor closed but the Landlock ruleset. Out of the way first, as two of them may hold a target. */
static void redirect(const int pipes[4], int keep) {
    static const int targets[4] = {REQUEST_FD, 1, 2, RESULT_FD};
    int moved[4];
    for (int i = 0; i < 4; i++) {
        moved[i] = fcntl(pipes[i], F_DUPFD, 16);
        if (moved[i] < 0) fail("moving descriptors", errno);
    }
    for (int i = 0; i < 4; i++)
        if (dup2(moved[i], targets[i]) < 0) fail("moving descriptors", errno);
    unsigned int low = REQUEST_FD + 1;
    if (keep >= (int)low) {
        if ((unsigned int)keep > low && syscall(SYS_close_range, low, (unsigned int)keep - 1, 0) < 0)
            fail("closing descriptors", errno);
        low = (unsigned int)keep + 1;
    }
    if (syscall(SYS_close_range, low, ~0U, 0) < 0) fail("closing descriptors", errno);
}

/* sandbox.prewarm.prefault: grow malloc's heap by `nbytes`, every page faulted in, then give it back to
 * malloc (which keeps it: the zygote set M_TRIM_THRESHOLD and M_MMAP_THRESHOLD). */
static void prefault(size_t nbytes) {
    void *blocks[MAX_CHUNKS];
    int count = 0;
    long page = sysconf(_SC_PAGESIZE);
    for (size_t done = 0; done < nbytes && count < MAX_CHUNKS; count++) {
        size_t size = nbytes - done < PREFAULT_CHUNK ? nbytes - done : PREFAULT_CHUNK;
        char *block = malloc(size);
        if (block == NULL) break;
        blocks[count] = block;
        uintptr_t start = ((uintptr_t)block + page - 1) / page * page;
        uintptr_t end = ((uintptr_t)block + size) / page * page;
        if (end > start && madvise((void *)start, end - start, MADV_POPULATE_WRITE) != 0)
            memset((void *)start, 0, end - start); /* kernels before 5.14: touch each page */
        done += size;
    }
    while (count > 0) free(blocks[--count]);
}

static void confine_child(const struct setup *s, const int pipes[4]) {
    if (s->orphan_guard) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) fail("parent-death signal", errno);
        if (getppid() == 1) _exit(ORPHANED);
    }
    redirect(pipes, s->landlock_fd);
    if (s->prefault) prefault(s->prefault);
    for (int i = 0; i < s->nlimits; i++) {
        struct rlimit limit = {(rlim_t)s->limits[i], (rlim_t)s->limits[i]};
        if (setrlimit(s->resources[i], &limit) != 0) fail("rlimit", errno);
    }
    if (s->landlock_fd >= 0) {
        if (syscall(SYS_landlock_restrict_self, s->landlock_fd, 0) != 0) fail("landlock restrict_self", errno);
        close(s->landlock_fd);
    }
    if (s->bpf_len) {
        struct sock_fprog prog = {(unsigned short)(s->bpf_len / sizeof(struct sock_filter)),
                                  (struct sock_filter *)s->bpf};
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) fail("seccomp", errno);
    }
}

static int parse_limits(PyObject *rlimits, struct setup *s) {
    PyObject *seq = PySequence_Fast(rlimits, "rlimits must be a sequence of (resource, limit) pairs");
    if (seq == NULL) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_RLIMITS) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "too many rlimits");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "iK;rlimits must be (resource, limit) pairs",
                              &s->resources[i], &s->limits[i])) {
            Py_DECREF(seq);
            return -1;
        }
    }
    s->nlimits = (int)n;
    Py_DECREF(seq);
    return 0;
}

static void close_all(const int *fds, int n) {
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) close(fds[i]);
}

PyDoc_STRVAR(prefork_doc,
"prefork(landlock_fd, bpf, rlimits, orphan_guard, prefault)\n--\n\n"
"Fork a block's process and confine it before it runs any Python code.\n\n"
"In the parent returns (pid, request_w, stdout_r, stderr_r, report_r); in the child returns None, with the\n"
"request on fd 4, stdout, stderr and the report on fds 1-3, every other descriptor closed, the heap\n"
"prefaulted, and the rlimits (resource, limit) pairs, the Landlock ruleset (-1: none) and the seccomp\n"
"program (empty: none) in force.");

static PyObject *prefork(PyObject *module, PyObject *args) {
    struct setup s = {0};
    PyObject *rlimits;
    unsigned long long prefault_bytes;
    (void)module;
    /* `bpf` as a pointer into the bytes object, which the caller keeps alive: no buffer to release after
     * the fork, whose write would copy a page of the zygote's. */
    if (!PyArg_ParseTuple(args, "iy#OpK:prefork", &s.landlock_fd, &s.bpf, &s.bpf_len, &rlimits,
                          &s.orphan_guard, &prefault_bytes))
        return NULL;
    s.prefault = (size_t)prefault_bytes;
    Py_ssize_t instructions = s.bpf_len / (Py_ssize_t)sizeof(struct sock_filter);
    if (s.bpf_len % (Py_ssize_t)sizeof(struct sock_filter) || instructions > 0xffff) {
        PyErr_SetString(PyExc_ValueError, "bpf must be whole sock_filter instructions (at most 65535)");
        return NULL;
    }
    if (parse_limits(rlimits, &s) < 0) return NULL;
    /* Child ends (request read end, stdout/stderr/report write ends), then the parent's ends. */
    int child_ends[4] = {-1, -1, -1, -1}, parent_ends[4] = {-1, -1, -1, -1};
    for (int i = 0; i < 4; i++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0) {
            close_all(child_ends, 4);
            close_all(parent_ends, 4);
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        child_ends[i] = i == 0 ? p[0] : p[1];
        parent_ends[i] = i == 0 ? p[1] : p[0];
    }
    PyOS_BeforeFork();
    pid_t pid = fork();
    if (pid == 0) {
        confine_child(&s, child_ends);
        PyOS_AfterFork_Child();
        Py_RETURN_NONE;
    }
    int saved = errno;
    PyOS_AfterFork_Parent();
    close_all(child_ends, 4);
    if (pid < 0) {
        close_all(parent_ends, 4);
        errno = saved;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return Py_BuildValue("(iiiii)", (int)pid, parent_ends[0], parent_ends[1], parent_ends[2], parent_ends[3]);
}

static PyMethodDef methods[] = {
    {"prefork", prefork, METH_VARARGS, prefork_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef spawn_module = {
    PyModuleDef_HEAD_INIT, "sandbox._spawn",
    "A block's fork and confinement in C (see the file's header).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__spawn(void) { return PyModule_Create(&spawn_module); }
