#!/usr/bin/python3
"""Converts recorded sessions (`pvgpu serve --record DIR` or `pvgpu run --record DIR`) into inputs
of the handler fuzz target (tests/fuzz/fuzz_handlers.c): the plain shared-memory blobs the guest
created (RESOURCE_CREATE_BLOB with blob id 0 in DIR/ctx-N.vtest, numbered as the server numbers
them, from 1), then every batch the context ran (DIR/ctx-N-batch-K.venus, K in order).

Usage: tests/fuzz/make_handler_corpus.py --generation current|2022 RECORD_DIR OUT_FILE_PREFIX
"""
import argparse
import glob
import os
import re
import struct

CREATE_RENDERER, RESOURCE_CREATE_BLOB = 8, 18


def blobs(vtest):
    """(res_id, size) of each plain shared-memory blob the stream creates."""
    out, res_id, at = [], 1, 0
    while at + 8 <= len(vtest):
        length, command = struct.unpack_from('<II', vtest, at)
        payload = length if command == CREATE_RENDERER else length * 4
        body = vtest[at + 8:at + 8 + payload]
        if command == RESOURCE_CREATE_BLOB and len(body) >= 24:
            _type, _flags, size_lo, size_hi, id_lo, id_hi = struct.unpack_from('<6I', body)
            if (id_hi << 32 | id_lo) == 0:
                out.append((res_id, size_hi << 32 | size_lo))
            res_id += 1
        at += 8 + payload
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--generation', choices=['current', '2022'], required=True)
    parser.add_argument('record_dir')
    parser.add_argument('out_prefix')
    args = parser.parse_args()
    for vtest_path in sorted(glob.glob(os.path.join(args.record_dir, 'ctx-*.vtest'))):
        ctx = re.search(r'ctx-(\d+)\.vtest$', vtest_path).group(1)
        data = bytearray([1 if args.generation == '2022' else 0])
        with open(vtest_path, 'rb') as f:
            for res_id, size in blobs(f.read()):
                data += b'B' + struct.pack('<II', res_id, min(size, 16 << 20))
        batches = glob.glob(os.path.join(args.record_dir, 'ctx-%s-batch-*.venus' % ctx))
        for path in sorted(batches, key=lambda p: int(re.search(r'batch-(\d+)', p).group(1))):
            with open(path, 'rb') as f:
                batch = f.read()
            data += b'S' + struct.pack('<I', len(batch)) + batch + b'\0' * (-len(batch) % 4)
        with open('%s-ctx%s' % (args.out_prefix, ctx), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
