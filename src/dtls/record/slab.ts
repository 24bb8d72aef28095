// Fresh record buffers carved from large slabs: each sealed record must outlive the call (the socket
// may send it later), and one big allocation per few hundred records is cheaper than Buffer's 8 KiB pool.

const SLAB_SIZE = 256 * 1024;
const ALIGNMENT = 8;

let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let used = 0;

/**
 * `length` bytes that nothing else will ever write. A slab is freed once every record cut from it
 * is garbage, as with Buffer's own pool; records larger than a quarter slab get their own memory.
 */
export function allocateRecord(length: number): Buffer {
  if (length > SLAB_SIZE / 4) return Buffer.allocUnsafeSlow(length);
  if (used + length > SLAB_SIZE) {
    slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
    used = 0;
  }
  const record = slab.subarray(used, used + length);
  used += (length + ALIGNMENT - 1) & ~(ALIGNMENT - 1);
  return record;
}
