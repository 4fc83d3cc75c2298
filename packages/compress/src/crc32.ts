import zlib from "node:zlib";

let table: Int32Array | undefined;

/** CRC-32 (ISO-HDLC, the one of gzip and zip); native `zlib.crc32` where the running Node has it (20.15+). */
export const crc32: (data: Uint8Array, value?: number) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === "function"
    ? (zlib as unknown as { crc32: (data: Uint8Array, value?: number) => number }).crc32
    : (data, value = 0) => {
        if (!table) {
          table = new Int32Array(256);
          for (let i = 0; i < 256; i++) {
            let c = i;
            for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
            table[i] = c;
          }
        }
        let crc = ~value;
        for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
        return ~crc >>> 0;
      };
