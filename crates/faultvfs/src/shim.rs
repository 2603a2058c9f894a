//! The FFI half: an `sqlite3_vfs` whose callbacks forward to the default
//! VFS, and an `sqlite3_io_methods` whose callbacks forward to the real
//! file, consulting [`Control`] first on the calls that change a file.
//!
//! Why unsafe: SQLite's VFS is a C interface of raw pointers and
//! `extern "C"` callbacks, and no maintained Rust crate offers a
//! pass-through shim over the default VFS (sqlite-vfs and friends
//! implement whole VFSes in Rust, which would test their file code, not
//! SQLite's). The unsafe code is confined to this file; every pointer it
//! touches is one SQLite handed it under the VFS contract.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CString};
use std::mem::size_of;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rusqlite::ffi;

use crate::{Control, Error, FileKind, Op};

/// What the VFS's `pAppData` points to: the wrapped VFS and the
/// switchboard. Leaked: it must outlive every connection.
struct Shared {
    base: *mut ffi::sqlite3_vfs,
    ctl: Arc<Control>,
}

/// Our file object. SQLite allocates `szOsFile` bytes for it: this header,
/// then the real VFS's file object right after.
#[repr(C)]
struct FaultFile {
    /// Must come first: SQLite sees a `sqlite3_file`.
    file: ffi::sqlite3_file,
    shared: *const Shared,
    real: *mut ffi::sqlite3_file,
    kind: FileKind,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

pub(crate) fn register(ctl: Arc<Control>) -> Result<String, Error> {
    // SAFETY: sqlite3_initialize is safe to call any number of times;
    // sqlite3_vfs_find(NULL) returns the default VFS or NULL.
    let base = unsafe {
        ffi::sqlite3_initialize();
        ffi::sqlite3_vfs_find(ptr::null())
    };
    if base.is_null() {
        return Err(Error::NoDefaultVfs);
    }
    let name = format!("outpost-faultvfs-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let c_name = CString::new(name.clone()).map_err(|_| Error::Register(ffi::SQLITE_MISUSE))?;
    let shared = Box::into_raw(Box::new(Shared { base, ctl }));
    // SAFETY: `base` is a registered VFS, valid for the process.
    let (base_size, max_path) = unsafe { ((*base).szOsFile, (*base).mxPathname) };
    let vfs = Box::new(ffi::sqlite3_vfs {
        iVersion: 2,
        szOsFile: (size_of::<FaultFile>() as c_int) + base_size,
        mxPathname: max_path,
        pNext: ptr::null_mut(),
        zName: c_name.into_raw(),
        pAppData: shared.cast(),
        xOpen: Some(x_open),
        xDelete: Some(x_delete),
        xAccess: Some(x_access),
        xFullPathname: Some(x_full_pathname),
        xDlOpen: Some(x_dl_open),
        xDlError: Some(x_dl_error),
        xDlSym: Some(x_dl_sym),
        xDlClose: Some(x_dl_close),
        xRandomness: Some(x_randomness),
        xSleep: Some(x_sleep),
        xCurrentTime: Some(x_current_time),
        xGetLastError: Some(x_get_last_error),
        xCurrentTimeInt64: Some(x_current_time_int64),
        xSetSystemCall: None,
        xGetSystemCall: None,
        xNextSystemCall: None,
    });
    let vfs = Box::into_raw(vfs);
    // SAFETY: `vfs` is fully initialised and leaked, so it outlives every
    // connection; 0 = do not make it the default.
    let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
    if rc != ffi::SQLITE_OK {
        return Err(Error::Register(rc));
    }
    Ok(name)
}

/// # Safety
/// `vfs` is one registered by [`register`].
unsafe fn shared<'a>(vfs: *mut ffi::sqlite3_vfs) -> &'a Shared {
    &*((*vfs).pAppData as *const Shared)
}

unsafe fn base(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    shared(vfs).base
}

fn kind(flags: c_int) -> FileKind {
    if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
        FileKind::MainDb
    } else if flags & ffi::SQLITE_OPEN_WAL != 0 {
        FileKind::Wal
    } else if flags & ffi::SQLITE_OPEN_MAIN_JOURNAL != 0 {
        FileKind::MainJournal
    } else {
        FileKind::Other
    }
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let sh = shared(vfs);
    let ff = file as *mut FaultFile;
    let real = (file as *mut u8).add(size_of::<FaultFile>()) as *mut ffi::sqlite3_file;
    (*ff).file.pMethods = ptr::null();
    (*ff).shared = sh;
    (*ff).real = real;
    (*ff).kind = kind(flags);
    (*real).pMethods = ptr::null();
    let mut flags = flags;
    if sh.ctl.open() && flags & ffi::SQLITE_OPEN_READWRITE != 0 {
        // What the unix VFS does when open(O_RDWR) fails with EROFS.
        flags = (flags & !(ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE)) | ffi::SQLITE_OPEN_READONLY;
    }
    let Some(open) = (*sh.base).xOpen else { return ffi::SQLITE_CANTOPEN };
    let rc = open(sh.base, name, real, flags, out_flags);
    if !(*real).pMethods.is_null() {
        (*ff).file.pMethods = &METHODS;
    }
    rc
}

unsafe extern "C" fn x_delete(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    if shared(vfs).ctl.read_only() {
        return ffi::SQLITE_IOERR_DELETE;
    }
    let b = base(vfs);
    match (*b).xDelete {
        Some(f) => f(b, name, sync_dir),
        None => ffi::SQLITE_IOERR_DELETE,
    }
}

unsafe extern "C" fn x_access(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, flags: c_int, out: *mut c_int) -> c_int {
    let b = base(vfs);
    let Some(f) = (*b).xAccess else { return ffi::SQLITE_IOERR_ACCESS };
    let rc = f(b, name, flags, out);
    if rc == ffi::SQLITE_OK && flags == ffi::SQLITE_ACCESS_READWRITE && shared(vfs).ctl.read_only() {
        *out = 0;
    }
    rc
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let b = base(vfs);
    match (*b).xFullPathname {
        Some(f) => f(b, name, n, out),
        None => ffi::SQLITE_CANTOPEN,
    }
}

unsafe extern "C" fn x_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    let b = base(vfs);
    match (*b).xDlOpen {
        Some(f) => f(b, name),
        None => ptr::null_mut(),
    }
}

unsafe extern "C" fn x_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    let b = base(vfs);
    if let Some(f) = (*b).xDlError {
        f(b, n, out);
    }
}

type DlSym = unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char);

unsafe extern "C" fn x_dl_sym(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void, sym: *const c_char) -> Option<DlSym> {
    let b = base(vfs);
    match (*b).xDlSym {
        Some(f) => f(b, handle, sym),
        None => None,
    }
}

unsafe extern "C" fn x_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    let b = base(vfs);
    if let Some(f) = (*b).xDlClose {
        f(b, handle);
    }
}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let b = base(vfs);
    match (*b).xRandomness {
        Some(f) => f(b, n, out),
        None => 0,
    }
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    let b = base(vfs);
    match (*b).xSleep {
        Some(f) => f(b, micros),
        None => 0,
    }
}

unsafe extern "C" fn x_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    let b = base(vfs);
    match (*b).xCurrentTime {
        Some(f) => f(b, out),
        None => ffi::SQLITE_ERROR,
    }
}

unsafe extern "C" fn x_get_last_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    let b = base(vfs);
    match (*b).xGetLastError {
        Some(f) => f(b, n, out),
        None => 0,
    }
}

unsafe extern "C" fn x_current_time_int64(vfs: *mut ffi::sqlite3_vfs, out: *mut ffi::sqlite3_int64) -> c_int {
    let b = base(vfs);
    if (*b).iVersion >= 2 {
        if let Some(f) = (*b).xCurrentTimeInt64 {
            return f(b, out);
        }
    }
    let mut days = 0.0f64;
    let rc = x_current_time(vfs, &mut days);
    *out = (days * 86_400_000.0) as ffi::sqlite3_int64;
    rc
}

// ---- the file methods ----

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(f_close),
    xRead: Some(f_read),
    xWrite: Some(f_write),
    xTruncate: Some(f_truncate),
    xSync: Some(f_sync),
    xFileSize: Some(f_file_size),
    xLock: Some(f_lock),
    xUnlock: Some(f_unlock),
    xCheckReservedLock: Some(f_check_reserved_lock),
    xFileControl: Some(f_file_control),
    xSectorSize: Some(f_sector_size),
    xDeviceCharacteristics: Some(f_device_characteristics),
    xShmMap: Some(f_shm_map),
    xShmLock: Some(f_shm_lock),
    xShmBarrier: Some(f_shm_barrier),
    xShmUnmap: Some(f_shm_unmap),
    xFetch: Some(f_fetch),
    xUnfetch: Some(f_unfetch),
};

/// The real file and its methods.
///
/// # Safety
/// `file` was opened by [`x_open`] with a non-null `pMethods`.
unsafe fn real(file: *mut ffi::sqlite3_file) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    let real = (*(file as *mut FaultFile)).real;
    (real, &*(*real).pMethods)
}

/// Count a fault point; `Some(code)` if this call must fail.
unsafe fn point(file: *mut ffi::sqlite3_file, op: Op) -> Option<c_int> {
    let ff = file as *mut FaultFile;
    (*(*ff).shared).ctl.point(op, (*ff).kind)
}

macro_rules! forward {
    ($m:ident, $file:expr, $default:expr $(, $arg:expr)*) => {{
        let (r, m) = real($file);
        match m.$m {
            Some(f) => f(r $(, $arg)*),
            None => $default,
        }
    }};
}

unsafe extern "C" fn f_close(file: *mut ffi::sqlite3_file) -> c_int {
    let rc = forward!(xClose, file, ffi::SQLITE_OK);
    (*file).pMethods = ptr::null();
    rc
}

unsafe extern "C" fn f_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    n: c_int,
    off: ffi::sqlite3_int64,
) -> c_int {
    forward!(xRead, file, ffi::SQLITE_IOERR_READ, buf, n, off)
}

unsafe extern "C" fn f_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    n: c_int,
    off: ffi::sqlite3_int64,
) -> c_int {
    if let Some(rc) = point(file, Op::Write) {
        return rc;
    }
    forward!(xWrite, file, ffi::SQLITE_IOERR_WRITE, buf, n, off)
}

unsafe extern "C" fn f_truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    if let Some(rc) = point(file, Op::Truncate) {
        return rc;
    }
    forward!(xTruncate, file, ffi::SQLITE_IOERR_TRUNCATE, size)
}

unsafe extern "C" fn f_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    if let Some(rc) = point(file, Op::Sync) {
        return rc;
    }
    forward!(xSync, file, ffi::SQLITE_IOERR_FSYNC, flags)
}

unsafe extern "C" fn f_file_size(file: *mut ffi::sqlite3_file, out: *mut ffi::sqlite3_int64) -> c_int {
    forward!(xFileSize, file, ffi::SQLITE_IOERR_FSTAT, out)
}

unsafe extern "C" fn f_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(xLock, file, ffi::SQLITE_IOERR_LOCK, level)
}

unsafe extern "C" fn f_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    forward!(xUnlock, file, ffi::SQLITE_IOERR_UNLOCK, level)
}

unsafe extern "C" fn f_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    forward!(xCheckReservedLock, file, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, out)
}

unsafe extern "C" fn f_file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    forward!(xFileControl, file, ffi::SQLITE_NOTFOUND, op, arg)
}

unsafe extern "C" fn f_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(xSectorSize, file, 4096)
}

unsafe extern "C" fn f_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    forward!(xDeviceCharacteristics, file, 0)
}

unsafe extern "C" fn f_shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let (r, m) = real(file);
    match m.xShmMap {
        Some(f) if m.iVersion >= 2 => f(r, page, size, extend, out),
        _ => ffi::SQLITE_IOERR_SHMMAP,
    }
}

unsafe extern "C" fn f_shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    let (r, m) = real(file);
    match m.xShmLock {
        Some(f) if m.iVersion >= 2 => f(r, offset, n, flags),
        _ => ffi::SQLITE_IOERR_SHMLOCK,
    }
}

unsafe extern "C" fn f_shm_barrier(file: *mut ffi::sqlite3_file) {
    let (r, m) = real(file);
    if let Some(f) = m.xShmBarrier.filter(|_| m.iVersion >= 2) {
        f(r);
    }
}

unsafe extern "C" fn f_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let (r, m) = real(file);
    match m.xShmUnmap {
        Some(f) if m.iVersion >= 2 => f(r, delete),
        _ => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn f_fetch(
    file: *mut ffi::sqlite3_file,
    off: ffi::sqlite3_int64,
    n: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let (r, m) = real(file);
    match m.xFetch {
        Some(f) if m.iVersion >= 3 => f(r, off, n, out),
        _ => {
            *out = ptr::null_mut();
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn f_unfetch(file: *mut ffi::sqlite3_file, off: ffi::sqlite3_int64, p: *mut c_void) -> c_int {
    let (r, m) = real(file);
    match m.xUnfetch {
        Some(f) if m.iVersion >= 3 => f(r, off, p),
        _ => ffi::SQLITE_OK,
    }
}
