# weft-gdb.py: gdb commands for the tasks of a weft process, live or a core.
#
#   gdb -x tools/weft-gdb.py -p PID            (or: gdb -x ... PROGRAM CORE)
#   (gdb) weft-tasks                every runtime, its workers and tasks
#   (gdb) weft-task ID              the selected thread's registers become
#                                   task ID's saved context: bt, frame N,
#                                   info locals then show the task
#   (gdb) weft-task-restore         put the thread's own registers back
#   (gdb) weft-bt ID                weft-task ID, bt, weft-task-restore
#
# Batch use: gdb -batch -x tools/weft-gdb.py -ex weft-tasks -p PID
#
# Cores: a kernel core dump (ulimit -c) holds the task stacks; gdb 13's
# gcore, on Linux 6.13+, writes zeros for mappings with guard markers
# (VmFlags "gu"), as weft's stack regions are, so there the tasks are
# listed but their backtraces are unavailable.
#
# What it reads (the binary needs its debug info, as in the default
# debugoptimized build): weft__rt_list, the list of live runtimes
# (runtime/watchdog.h), or failing that each thread's weft__tls_worker; for
# each worker its running task (current), its LIFO slot and its live list
# (tasks that have suspended at least once: see runtime/worker.c); in debug
# mode (WEFT_DEBUG=1) also its registry shard, which holds every task that
# has started.  Tasks still queued and never run have no stack yet and are
# not listed (the run queues are not walked).
#
# A suspended task's registers are saved on its own stack by
# weft__ctx_switch (runtime/ctx_x86_64.S, runtime/ctx_aarch64.S): the
# context's sp points at them.  x86-64, from sp up: MXCSR and x87 control
# word (8 bytes), r15, r14, r13, r12, rbx, rbp, then the return address into
# the caller of weft__ctx_switch; the task resumes with rsp = sp + 64.
# AArch64: x19-x28, x29, x30 (the return address), d8-d15, FPCR; the task
# resumes with sp = sp + 176.
#
# On a live process weft-task changes a real thread's registers: run
# weft-task-restore (weft-bt does it for you) before continuing or
# detaching, or that thread resumes on the task's stack.  A core's
# registers cannot be written: there a frame unwinder makes the task's
# frames the callers of the selected thread's frame #0, so the task's
# backtrace starts at frame #1 (frame #0 stays the thread's own).

import struct

import gdb
from gdb.unwinder import Unwinder, register_unwinder

# runtime/task.h
T_COMPLETE = 1 << 0
T_DETACHED = 1 << 2
T_CANCELLED = 1 << 3
T_REF_SHIFT = 8
# runtime/park.c
P_WAITING = 0x1
P_WOKEN = 0x4

X86_SAVED = ["r15", "r14", "r13", "r12", "rbx", "rbp"]  # after the FP word
X86_REGS = ["rip", "rsp", "rbp", "rbx", "r12", "r13", "r14", "r15"]
A64_REGS = ["pc", "sp"] + ["x%d" % i for i in range(19, 31)]

# While switched: (thread global num, {reg: value} to put back, or None
# when the unwinder below does the work).
_saved = None


class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class _TaskUnwinder(Unwinder):
    """On a core: frame #0 of the chosen thread gets the task's context as
    its caller's registers.  Frame #0 is given an id at the task's saved sp,
    so that the task's frames (above it on the task's stack) are outer to it
    wherever the task's stack lies."""

    def __init__(self):
        super().__init__("weft-task")
        self.thread = None
        self.regs = None
        self.sp = 0

    def __call__(self, pf):
        if self.regs is None or pf.level() != 0:
            return None
        th = gdb.selected_thread()
        if th is None or th.num != self.thread:
            return None
        pc = pf.read_register("pc")
        ulong = gdb.lookup_type("unsigned long")
        # gdb wants gdb.Value attributes here, not ints.
        ui = pf.create_unwind_info(_FrameId(gdb.Value(self.sp).cast(ulong),
                                            pc))
        for r, v in self.regs.items():
            ui.add_saved_register(r, gdb.Value(v).cast(ulong))
        return ui


_unwinder = _TaskUnwinder()
register_unwinder(None, _unwinder, replace=True)


def _u(v):
    return int(v) & 0xFFFFFFFFFFFFFFFF


def _ptr(v):
    return int(v.cast(gdb.lookup_type("unsigned long")))


def _str(v):
    try:
        return v.string() if _ptr(v) else None
    except gdb.error:
        return "?"


def _arch():
    name = gdb.selected_inferior().architecture().name()
    if "x86-64" in name:
        return "x86-64"
    if "aarch64" in name:
        return "aarch64"
    raise gdb.GdbError("weft-gdb: no context layout for " + name)


def _runtimes():
    """Every runtime: weft__rt_list, else the workers' threads."""
    rts = []
    try:
        n = gdb.parse_and_eval("weft__rt_list")
        while _ptr(n):
            rts.append(n["rt"])
            n = n["next"]
        return rts
    except gdb.error:
        pass
    seen = set()
    cur = gdb.selected_thread()
    for th in gdb.selected_inferior().threads():
        try:
            th.switch()
            w = gdb.parse_and_eval("weft__tls_worker")
        except gdb.error:
            continue
        if _ptr(w) and _ptr(w["rt"]) not in seen:
            seen.add(_ptr(w["rt"]))
            rts.append(w["rt"])
    if cur:
        cur.switch()
    return rts


def _workers(rt):
    return [rt["workers"][i] for i in range(int(rt["nworkers"]))]


def _thread_of(w):
    """The gdb thread running worker w, or None."""
    want = _u(w["thread"])
    for th in gdb.selected_inferior().threads():
        try:
            h = th.handle()
        except (gdb.error, AttributeError):
            return None
        if h and int.from_bytes(bytes(h)[:8], "little") == want:
            return th
    return None


def _tasks_of(w):
    """(task, where) for the tasks worker w knows, each once."""
    out, seen = [], set()

    def add(t, where):
        if _ptr(t) and _ptr(t) not in seen:
            seen.add(_ptr(t))
            out.append((t, where))

    add(w["current"], "running")
    add(w["lifo"], "lifo")
    t = w["live"]
    n = 0
    while _ptr(t) and n < 1000000:
        add(t, "live")
        t = t["live_next"]
        n += 1
    dbg = w["dbg"]
    if _ptr(dbg):
        for i in range(int(dbg["n"])):
            add(dbg["tasks"][i], "registry")
    return out


def _all_tasks():
    for rt in _runtimes():
        for w in _workers(rt):
            for t, where in _tasks_of(w):
                yield rt, w, t, where


def _state(t, where):
    s = _u(t["state"])
    park = _u(t["park"])
    if s & T_COMPLETE:
        txt = "done, status %d" % int(t["status"])
    elif where == "running":
        txt = "running"
    elif (park & P_WAITING) and not (park & P_WOKEN):
        txt = "waiting"
    else:
        txt = "runnable"
    flags = []
    if s & T_CANCELLED:
        flags.append("cancel requested")
    if s & T_DETACHED:
        flags.append("detached")
    flags.append("refs %d" % (s >> T_REF_SHIFT))
    return txt, flags


def _describe(t, where):
    txt, flags = _state(t, where)
    name = t["name"].string() or "-"
    line = "  task %d \"%s\": %s" % (int(t["id"]), name, txt)
    if txt == "waiting":
        func = _str(t["wait_func"])
        fil = _str(t["wait_file"])
        fd = int(t["wait_fd"])
        if func:
            line += " in %s" % func
        if fd >= 0:
            line += " fd %d" % fd
        if fil:
            line += " (%s)" % fil
    if flags:
        line += " [%s]" % ", ".join(flags)
    if txt not in ("running",) and not (_u(t["state"]) & T_COMPLETE) \
            and _ptr(t["stack"]):
        line += " ctx sp 0x%x" % _ptr(t["ctx"]["sp"])
    return line


class WeftTasks(gdb.Command):
    """List every weft runtime, its workers and their tasks."""

    def __init__(self):
        super().__init__("weft-tasks", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        rts = _runtimes()
        if not rts:
            print("weft: no runtime found (weft__rt_list empty or missing)")
            return
        for rt in rts:
            cfg = rt["cfg"]
            print("runtime 0x%x: %d workers, shutdown %d, debug %d"
                  % (_ptr(rt), int(rt["nworkers"]), int(rt["shutdown"]),
                     int(cfg["debug"])))
            for w in _workers(rt):
                th = _thread_of(w)
                where = ("thread %d (LWP %d)" % (th.num, th.ptid[1])
                         if th else "no thread")
                print(" worker %d: %s" % (int(w["index"]), where))
                for t, how in _tasks_of(w):
                    print(_describe(t, how))


def _find(tid):
    for rt, w, t, where in _all_tasks():
        if int(t["id"]) == tid:
            return w, t, where
    raise gdb.GdbError("weft: no task %d (see weft-tasks)" % tid)


def _read_regs(names):
    f = gdb.newest_frame()
    return {r: _u(f.read_register(r)) for r in names}


def _set_regs(vals):
    for r, v in vals.items():
        gdb.execute("set $%s = %d" % (r, v), to_string=True)
    gdb.execute("select-frame 0", to_string=True)


def _restore():
    global _saved
    if not _saved:
        return False
    num, vals = _saved
    _saved = None
    if vals is None:
        _unwinder.regs = None
        gdb.invalidate_cached_frames()
        return True
    for th in gdb.selected_inferior().threads():
        if th.num == num:
            th.switch()
            _set_regs(vals)
            return True
    return False


def _switch(tid):
    global _saved
    w, t, where = _find(tid)
    if where == "running":
        th = _thread_of(w)
        raise gdb.GdbError(
            "weft: task %d is running on worker %d: its stack is that "
            "thread's own (thread %s)"
            % (tid, int(w["index"]), th.num if th else "?"))
    if _u(t["state"]) & T_COMPLETE or not _ptr(t["stack"]):
        raise gdb.GdbError("weft: task %d has no saved context" % tid)
    _restore()
    arch = _arch()
    sp = _ptr(t["ctx"]["sp"])
    mem = gdb.selected_inferior()
    if arch == "x86-64":
        q = struct.unpack("<8Q", bytes(mem.read_memory(sp, 64)))
        new = dict(zip(X86_SAVED, q[1:7]))
        new.update({"rip": q[7], "rsp": sp + 64})
        names = X86_REGS
    else:
        q = struct.unpack("<12Q", bytes(mem.read_memory(sp, 96)))
        new = {"x%d" % (19 + i): q[i] for i in range(12)}
        new.update({"pc": q[11], "sp": sp + 176})
        names = A64_REGS
    if not new.get("rip", new.get("pc")):
        # Seen with gdb 13's gcore on Linux 6.13+: it writes zeros for a
        # mapping with guard markers (VmFlags "gu"), as weft's stack
        # regions are; a kernel core dump (ulimit -c) has them.
        raise gdb.GdbError("weft: task %d's stack is not in this core "
                           "(zeros at its saved context)" % tid)
    th = gdb.selected_thread()
    if th is None:
        raise gdb.GdbError("weft: no thread selected")
    vals = _read_regs(names)
    try:
        _set_regs(new)
        _saved = (th.num, vals)
    except gdb.error:
        # A core: its registers are read-only.
        _unwinder.thread, _unwinder.regs, _unwinder.sp = th.num, new, sp
        _saved = (th.num, None)
        gdb.invalidate_cached_frames()
        try:
            gdb.execute("select-frame 1", to_string=True)
        except gdb.error:
            _restore()
            raise
        print("weft: (a core: frame #0 is thread %d's own, the task's "
              "frames start at #1)" % th.num)
    return t, th


class WeftTask(gdb.Command):
    """weft-task ID: show task ID's saved context in the selected thread."""

    def __init__(self):
        super().__init__("weft-task", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        t, th = _switch(int(arg, 0))
        print("weft: thread %d now shows task %d \"%s\"; weft-task-restore "
              "puts its registers back" % (th.num, int(t["id"]),
                                           t["name"].string()))


class WeftTaskRestore(gdb.Command):
    """Put back the registers weft-task replaced."""

    def __init__(self):
        super().__init__("weft-task-restore", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        if not _restore():
            print("weft: nothing to restore")


class WeftBt(gdb.Command):
    """weft-bt ID [bt args]: the backtrace of task ID's saved context."""

    def __init__(self):
        super().__init__("weft-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        args = arg.split(None, 1)
        if not args:
            raise gdb.GdbError("usage: weft-bt ID [bt arguments]")
        t, th = _switch(int(args[0], 0))
        try:
            print("task %d \"%s\":" % (int(t["id"]), t["name"].string()))
            gdb.execute("bt " + (args[1] if len(args) > 1 else ""))
        finally:
            _restore()


WeftTasks()
WeftTask()
WeftTaskRestore()
WeftBt()
