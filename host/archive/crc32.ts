// Runs anywhere. CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320), table driven.
// Why CRC and SHA-256 both: the CRC is cheap and synchronous, so the tail scan on open
// can tell a torn record from a whole one without awaiting crypto.subtle per record;
// SHA-256 is the content address and catches what a CRC collision would let through.

const TABLE = /* @__PURE__ */ (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Continue a CRC: pass the previous result as `crc` to checksum several pieces as one. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  }
  return ~c >>> 0;
}
