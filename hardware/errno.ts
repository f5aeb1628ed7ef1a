/**
 * The errno vocabulary of the hardware bindings: the values they act on,
 * their names, and the one mapping from an errno to a protocol error code
 * (docs/PLUGINS.md §8.3). Pure: no FFI, so plugins that reach the kernel
 * some other way (owserver's negative answers, libgpiod, sysfs) map their
 * errno values the same way as the libc bindings.
 *
 * @module
 */
import { ErrorCode, type ErrorCodeValue, MyClerkError } from "../core/errors.ts";

/** errno values the bindings act on (asm-generic). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  EROFS: 30,
  ERANGE: 34,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
  ENOBUFS: 105,
  ENETDOWN: 100,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EREMOTEIO: 121,
  /** Kernel-internal ENOTSUPP (gpiolib answers it for a flag the chip cannot set). */
  ENOTSUPP: 524,
} as const;

const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(ERRNO).map(([k, v]) => [v, k]),
);

/** The symbolic name of an errno value (`E123` when unknown). */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/**
 * The protocol error code for an errno: missing device NOT_FOUND, denied
 * FORBIDDEN, busy SERVICE_UNAVAILABLE, bad argument BAD_REQUEST, not
 * supported by the driver UNSUPPORTED, time-out TIMEOUT, the rest
 * INTERNAL_ERROR (an I/O error on the bus itself).
 */
export function errnoCode(errno: number): ErrorCodeValue {
  switch (errno) {
    case ERRNO.ENOENT:
    case ERRNO.ENODEV:
    case ERRNO.ENXIO:
      return ErrorCode.NOT_FOUND;
    case ERRNO.EACCES:
    case ERRNO.EPERM:
    case ERRNO.EROFS:
      return ErrorCode.FORBIDDEN;
    case ERRNO.EBUSY:
    case ERRNO.EAGAIN:
    case ERRNO.ENOBUFS:
    case ERRNO.ENETDOWN:
      return ErrorCode.SERVICE_UNAVAILABLE;
    case ERRNO.EINVAL:
    case ERRNO.E2BIG:
    case ERRNO.EFAULT:
    case ERRNO.ERANGE:
      return ErrorCode.BAD_REQUEST;
    case ERRNO.ENOTTY:
    case ERRNO.EOPNOTSUPP:
    case ERRNO.ENOTSUPP:
    case ERRNO.ENOSYS:
      return ErrorCode.UNSUPPORTED;
    case ERRNO.ETIMEDOUT:
      return ErrorCode.TIMEOUT;
    default:
      return ErrorCode.INTERNAL_ERROR;
  }
}

/** A MyClerkError for a failed call: detail `WHAT-failed`, extra `{ errno, errnoName }`. */
export function sysError(what: string, errno: number, code?: ErrorCodeValue): MyClerkError {
  return new MyClerkError(code ?? errnoCode(errno), `${what}-failed`, {
    errno,
    errnoName: errnoName(errno),
  });
}
