#!/usr/bin/python3
"""Builds the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/).

Two kinds of seeds:
  hand-made  edge cases and the worked examples of docs/venus-protocol-notes.md, built here so
             that each is documented by the code that makes it (always written);
  recorded   from `pvgpu run --record DIR -- PROGRAM` recordings (the DIRs given on the command
             line, each named after its program): the guest's vtest bytes as vtest seeds, the
             executed Venus batches as decoder seeds (guest ids rewritten to the decoder target's
             fake objects, so that decoding gets past the first handle) and, packed into the ring
             target's input format, as ring seeds.

Usage: make_corpus.py [--build BUILD] [--out DIR] [RECORDING_DIR...]
       make_corpus.py --build BUILD --dict OUT      (the fuzzing dictionary, for make fuzz)
The decoder seeds need BUILD/tests/fuzz/fuzz_decoder_replay (for the id rewriting). Files of an
earlier run are replaced; files this script did not make are left alone.
"""

import argparse
import hashlib
import os
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# Object types of the decoder target's fake objects, in fuzz_decoder.c's object_types order: the
# object of type index i and number k (1..3) has id (i + 1) << 8 | k.
OBJECT_TYPES = [
    'VkInstance', 'VkPhysicalDevice', 'VkDevice', 'VkQueue', 'VkSemaphore', 'VkCommandBuffer',
    'VkFence', 'VkDeviceMemory', 'VkBuffer', 'VkImage', 'VkEvent', 'VkQueryPool', 'VkBufferView',
    'VkImageView', 'VkShaderModule', 'VkPipelineCache', 'VkPipelineLayout', 'VkRenderPass',
    'VkPipeline', 'VkDescriptorSetLayout', 'VkSampler', 'VkDescriptorPool', 'VkDescriptorSet',
    'VkFramebuffer', 'VkCommandPool', 'VkSamplerYcbcrConversion', 'VkDescriptorUpdateTemplate',
    'VkPrivateDataSlot',
]


def fake_id(type_name, k=1):
    return (OBJECT_TYPES.index(type_name) + 1) << 8 | k


# -- encoding helpers -------------------------------------------------------------------------

def u32(*values):
    return b''.join(struct.pack('<I', v & 0xffffffff) for v in values)


def u64(*values):
    return b''.join(struct.pack('<Q', v & 0xffffffffffffffff) for v in values)


def cmd(command_type, flags=0):
    return u32(command_type, flags)


def string(text):
    data = text.encode() + b'\0' if isinstance(text, str) else text
    return u64(len(data)) + data + b'\0' * (-len(data) % 4)


# Venus command types (VkCommandTypeEXT) used below.
CREATE_INSTANCE = 0
ENUMERATE_PHYSICAL_DEVICES = 2
QUEUE_SUBMIT = 18
CMD_DRAW = 106
SET_REPLY_COMMAND_STREAM = 178
SEEK_REPLY_COMMAND_STREAM = 179
EXECUTE_COMMAND_STREAMS = 180
CREATE_RING = 188
DESTROY_RING = 189
NOTIFY_RING = 190
WRITE_RING_EXTRA = 191
EXPERIMENTAL_FEATURES = 195
GET_DEVICE_QUEUE_2 = 155
IMPORT_SEMAPHORE_RESOURCE = 246
WAIT_SEMAPHORE_RESOURCE = 245
SUBMIT_VIRTQUEUE_SEQNO = 251
WAIT_VIRTQUEUE_SEQNO = 252
WAIT_RING_SEQNO = 253
# A number no command has, in no generation.
UNKNOWN_COMMAND = 400
STYPE_INSTANCE_CREATE_INFO = 1
STYPE_APPLICATION_INFO = 0
STYPE_SUBMIT_INFO = 4
STYPE_VALIDATION_FLAGS_EXT = 1000061000
STYPE_RING_CREATE_INFO = 1000384000
STYPE_IMPORT_SEMAPHORE_RESOURCE_INFO = 1000384004
STYPE_DEVICE_QUEUE_TIMELINE_INFO = 1000384005
STYPE_RING_MONITOR_INFO = 1000384006
STYPE_RING_PRIORITY_INFO = 1000384007
STYPE_DEVICE_QUEUE_INFO_2 = 1000145003


def create_instance(app_name='demo', instance_id=0x1122334455667788, flags=1):
    """vkCreateInstance exactly as the notes' worked example (136 bytes with "demo")."""
    return (cmd(CREATE_INSTANCE, flags) + u64(1) + u32(STYPE_INSTANCE_CREATE_INFO) + u64(0) +
            u32(0) + u64(1) + u32(STYPE_APPLICATION_INFO) + u64(0) + string(app_name) + u32(1) +
            u64(0) + u32(0) + u32(0x00401000) + u32(0) + u64(0) + u32(0) + u64(0) + u64(0) +
            u64(1, instance_id))


def seek(position):
    return cmd(SEEK_REPLY_COMMAND_STREAM) + u64(position)


def set_reply(res_id, offset, size):
    return cmd(SET_REPLY_COMMAND_STREAM) + u64(1) + u32(res_id) + u64(offset, size)


def execute_streams(streams, reply_positions=(), dependencies=(), flags=0):
    out = cmd(EXECUTE_COMMAND_STREAMS) + u32(len(streams)) + u64(len(streams))
    for res_id, offset, size in streams:
        out += u32(res_id) + u64(offset, size)
    out += u64(len(reply_positions)) + u64(*reply_positions) if reply_positions else u64(0)
    out += u32(len(dependencies)) + u64(len(dependencies))
    for a, b in dependencies:
        out += u32(a, b)
    return out + u32(flags)


def create_ring(ring_id, res_id, size, buffer_size, idle_ns=50000000, head=0, tail=64, status=128,
                buffer=192, extra=None, extra_size=4, offset=0, monitor_us=None, priority=None):
    """vkCreateRingMESA; current guests chain VkRingMonitorInfoMESA (monitor_us) and, from
    protocol spec 2, VkRingPriorityInfoMESA (priority) behind it."""
    extra = buffer + buffer_size if extra is None else extra
    chain, members = b'', b''
    for stype, member in ((STYPE_RING_MONITOR_INFO, monitor_us), (STYPE_RING_PRIORITY_INFO, priority)):
        if member is not None:
            chain += u64(1) + u32(stype)
            members = u32(member) + members
    return (cmd(CREATE_RING) + u64(ring_id) + u64(1) + u32(STYPE_RING_CREATE_INFO) + chain + u64(0) +
            members + u32(0, res_id) + u64(offset, size, idle_ns, head, tail, status, buffer,
                                           buffer_size, extra, extra_size))


def submit_virtqueue_seqno(ring_id, seqno):
    return cmd(SUBMIT_VIRTQUEUE_SEQNO) + u64(ring_id, seqno)


def wait_virtqueue_seqno(seqno):
    return cmd(WAIT_VIRTQUEUE_SEQNO) + u64(seqno)


def wait_ring_seqno(ring_id, seqno):
    return cmd(WAIT_RING_SEQNO) + u64(ring_id, seqno)


def notify_ring(ring_id, seqno=0, flags=0):
    return cmd(NOTIFY_RING) + u64(ring_id) + u32(seqno, flags)


def write_ring_extra(ring_id, offset, value):
    return cmd(WRITE_RING_EXTRA, 1) + u64(ring_id, offset) + u32(value)


def destroy_ring(ring_id):
    return cmd(DESTROY_RING) + u64(ring_id)


def experimental_query():
    return cmd(EXPERIMENTAL_FEATURES, 1) + u64(1, 16, 16)


# -- decoder seeds ----------------------------------------------------------------------------

def handmade_decoder():
    queue, semaphore, cb, fence = (fake_id('VkQueue'), fake_id('VkSemaphore'),
                                   fake_id('VkCommandBuffer'), fake_id('VkFence'))
    seeds = {
        'notes-vkCreateInstance': create_instance(),
        'notes-vkCmdDraw': cmd(CMD_DRAW) + u64(cb) + u32(3, 1, 0, 0),
        # One submit: a wait semaphore at COLOR_ATTACHMENT_OUTPUT, one command buffer, a fence.
        'notes-vkQueueSubmit': (cmd(QUEUE_SUBMIT) + u64(queue) + u32(1) + u64(1) +
                                u32(STYPE_SUBMIT_INFO) + u64(0) + u32(1) + u64(1, semaphore) +
                                u64(1) + u32(0x400) + u32(1) + u64(1, cb) + u32(0) + u64(0) +
                                u64(fence)),
        'notes-vkSeekReplyCommandStreamMESA': seek(0),
        'notes-experimental-query': experimental_query(),
        'notes-startup-stream': set_reply(1, 0, 1 << 20) + seek(0) + experimental_query(),
        'notes-vkCreateRingMESA': create_ring(0x7f0000001000, 2, 65732, 65536),
        'transport-commands': (notify_ring(0x7f0000001000, 64) +
                               write_ring_extra(0x7f0000001000, 0, 7) +
                               execute_streams([(3, 0, 64)]) + destroy_ring(0x7f0000001000)),
        'edge-truncated-header': u32(CMD_DRAW),
        'edge-truncated-arguments': cmd(CMD_DRAW) + u64(cb) + u32(3),
        'edge-unknown-command-type': cmd(UNKNOWN_COMMAND) + u64(0),
        # The current protocol's own commands and structs.
        'current-seqnos': (submit_virtqueue_seqno(0x7f0000001000, 3) + wait_virtqueue_seqno(3) +
                           wait_ring_seqno(0x7f0000001000, 0xfffffff0)),
        'current-vkCreateRingMESA': create_ring(0x7f0000002000, 2, 131268, 131072, idle_ns=1000000,
                                                monitor_us=3000000, priority=-5),
        'current-vkGetDeviceQueue2': (cmd(GET_DEVICE_QUEUE_2) + u64(fake_id('VkDevice')) + u64(1) +
                                      u32(STYPE_DEVICE_QUEUE_INFO_2) + u64(1) +
                                      u32(STYPE_DEVICE_QUEUE_TIMELINE_INFO) + u64(0) + u32(1) +
                                      u32(0, 0, 0) + u64(1, fake_id('VkQueue', 2))),
        'current-semaphore-resources': (cmd(IMPORT_SEMAPHORE_RESOURCE) + u64(fake_id('VkDevice')) +
                                        u64(1) + u32(STYPE_IMPORT_SEMAPHORE_RESOURCE_INFO) + u64(0) +
                                        u64(semaphore) + u32(0) +
                                        cmd(WAIT_SEMAPHORE_RESOURCE) + u64(fake_id('VkDevice'),
                                                                           semaphore)),
        'edge-unknown-flags': cmd(CMD_DRAW, 2) + u64(cb) + u32(3, 1, 0, 0),
        'edge-null-required-handle': cmd(CMD_DRAW) + u64(0) + u32(3, 1, 0, 0),
        'edge-unknown-handle': cmd(CMD_DRAW) + u64(0xdeadbeef) + u32(3, 1, 0, 0),
        'edge-mistyped-handle': cmd(CMD_DRAW) + u64(fake_id('VkDevice')) + u32(3, 1, 0, 0),
        'edge-string-without-nul': create_instance(app_name=b'demoX'),
        'edge-string-overruns': create_instance()[:0x34] + u64(0x7fffffff) + b'demo',
        # A count far beyond the bytes that follow, and one beyond 32 bits.
        'edge-huge-array-count': (cmd(ENUMERATE_PHYSICAL_DEVICES, 1) + u64(fake_id('VkInstance')) +
                                  u64(1) + u32(0xffffffff) + u64(0xffffffff)),
        'edge-array-count-mismatch': (cmd(ENUMERATE_PHYSICAL_DEVICES, 1) +
                                      u64(fake_id('VkInstance')) + u64(1) + u32(2) + u64(3) +
                                      u64(1, 2, 3)),
        'edge-execute-streams-counts': execute_streams([(3, 0, 64), (3, 64, 64)], (0, 8), [(0, 1)],
                                                       flags=1),
        'two-commands': seek(0) + cmd(CMD_DRAW) + u64(cb) + u32(3, 1, 0, 0),
    }
    # A pNext chain deeper than PV_CS_MAX_CHAIN_DEPTH (256): each element is marker 1, its sType,
    # the rest of the chain, then its members.
    instance = create_instance()
    head, rest = instance[:0x14], instance[0x1c:]   # up to sType; from flags on
    seeds['edge-pnext-too-deep'] = head + (u64(1) + u32(STYPE_VALIDATION_FLAGS_EXT)) * 300 + u64(0)
    seeds['pnext-chain-of-three'] = (head + (u64(1) + u32(STYPE_VALIDATION_FLAGS_EXT)) * 3 +
                                     u64(0) + (u32(0) + u64(0)) * 3 + rest)
    seeds['edge-unknown-stype-in-chain'] = head + u64(1) + u32(123456789) + u64(0) + rest
    return seeds


def decode_log(replay, data, scratch):
    with open(scratch, 'wb') as f:
        f.write(data)
    env = dict(os.environ, PVGPU_FUZZ_VERBOSE='1')
    out = subprocess.run([replay, scratch], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit('make_corpus: %s crashed on a recorded batch (kept in %s):\n%s' %
                 (replay, scratch, out.stderr[-2000:]))
    return [line[len('decode: '):] for line in out.stderr.splitlines() if line.startswith('decode: ')]


UNKNOWN_ID = re.compile(r'failed: unknown (\w+) id 0x([0-9a-f]+)$')


def rewrite_ids(replay, data, scratch):
    """Replaces the guest's ids with fake objects of the type the decoder asked for, one at a
    time, until decoding stops on something else. Returns the new bytes and the decode log."""
    mapping = {}
    for _ in range(64):
        log = decode_log(replay, data, scratch)
        m = UNKNOWN_ID.search(log[-1]) if log else None
        if not m or m.group(1) not in OBJECT_TYPES:
            return data, log
        old = int(m.group(2), 16)
        type_name = m.group(1)
        k = sum(1 for t in mapping.values() if t == type_name) % 3 + 1
        new = fake_id(type_name, k)
        mapping[old] = type_name
        old_bytes, new_bytes = u64(old), u64(new)
        out = bytearray(data)
        for pos in range(0, len(out) - 7, 4):
            if out[pos:pos + 8] == old_bytes:
                out[pos:pos + 8] = new_bytes
        if bytes(out) == data:
            return data, log
        data = bytes(out)
    return data, decode_log(replay, data, scratch)


def recorded_batches(recordings):
    for rec in recordings:
        name = os.path.basename(os.path.normpath(rec))
        for f in sorted(os.listdir(rec)):
            m = re.match(r'ctx-(\d+)-batch-(\d+)\.venus$', f)
            if m:
                with open(os.path.join(rec, f), 'rb') as fh:
                    yield name, int(m.group(1)), int(m.group(2)), fh.read()


def recorded_decoder(recordings, build, limit, max_size, scratch):
    replay = os.path.join(build, 'tests', 'fuzz', 'fuzz_decoder_replay')
    if not os.access(replay, os.X_OK):
        sys.exit('make_corpus: %s missing; build it (ninja -C %s)' % (replay, build))
    by_signature = {}
    for name, ctx, k, data in recorded_batches(recordings):
        if len(data) > max_size:
            continue
        data, log = rewrite_ids(replay, data, scratch)
        # What the batch exercises: the commands that decoded and where it stopped.
        signature = tuple(re.sub(r' at \d+', '', line).split(':')[0] +
                          ('' if line.endswith(': ok') else ':failed') for line in log)
        best = by_signature.get(signature)
        if best is None or len(data) < len(best[1]):
            first = next((line.split(' ')[0] for line in log
                          if not line.startswith('vkSeekReplyCommandStreamMESA')), 'empty')
            by_signature[signature] = ('rec-%s-%s-%d' % (name, first, k), data)
    # One seed per first command (the one decoding the most commands, then the smallest), then
    # more of those that decode the most, up to the limit.
    decoded = lambda item: sum(not s.endswith(':failed') for s in item[0])
    ranked = sorted(by_signature.items(), key=lambda kv: (-decoded(kv), len(kv[1][1])))
    chosen, firsts = [], set()
    for signature, (name, data) in ranked:
        first = name.split('-')[2]
        if first not in firsts:
            firsts.add(first)
            chosen.append((name, data))
    for signature, entry in ranked:
        if len(chosen) >= limit:
            break
        if entry not in chosen:
            chosen.append(entry)
    return dict(chosen[:limit])


# -- ring seeds -------------------------------------------------------------------------------

RING_ID = 0x52494e4700000010   # fuzz_ring.c's ring
INDIRECT_RES_ID = 3


def ring_input(buffer_log2, idle, head, steps, current=False, monitored=False):
    """fuzz_ring.c's format: shape byte, initial head, then (op, length, bytes) steps."""
    shape = (buffer_log2 - 4) | idle << 4 | (0x40 if current else 0) | (0x80 if monitored else 0)
    out = bytes([shape]) + u32(head)
    for op, data in steps:
        assert len(data) < 65536
        out += bytes([op]) + struct.pack('<H', len(data)) + data
    return out


def batch(data):
    return (0, data)


def tail_jump(n):
    return (1, u32(n))


def indirect(data, slot=0):
    return (2 | slot << 2, data)


def socket(data):
    return (3, data)


def handmade_ring():
    seeks = seek(0) + seek(8)
    nested = len(execute_streams([(INDIRECT_RES_ID, 0, 0)]))
    return {
        'seeks': ring_input(12, 2, 0, [batch(seek(0)), batch(seeks), batch(seek(16))]),
        'wrap-buffer': ring_input(6, 2, 40, [batch(seeks), batch(seeks), batch(seeks + seeks)]),
        'wrap-u32': ring_input(5, 2, 0xfffffff0, [batch(seek(0)), batch(seeks), batch(seeks)]),
        'idle-notify': ring_input(8, 0, 0, [batch(seek(0))] * 6),
        'idle-100us': ring_input(8, 1, 0, [batch(seek(0)), batch(seeks)]),
        'hostile-tail-jump': ring_input(8, 2, 0, [batch(seek(0)), tail_jump(0x10000000),
                                                  batch(seek(0))]),
        'hostile-tail-backwards': ring_input(8, 2, 100, [tail_jump(0xfffffff0), batch(seek(0))]),
        'tail-exactly-full': ring_input(5, 2, 0, [batch(seeks)]),
        'tail-one-past-full': ring_input(5, 2, 0, [batch(seeks + u32(0))]),
        'partial-command': ring_input(8, 2, 0, [batch(seek(0)[:12]), batch(seek(0)[12:])]),
        'destroy-own-ring': ring_input(8, 2, 0, [batch(destroy_ring(RING_ID)), batch(seek(0))]),
        'destroy-ring-from-socket': ring_input(8, 2, 0, [socket(destroy_ring(RING_ID)),
                                                         batch(seek(0))]),
        'notify-from-ring': ring_input(8, 2, 0, [batch(notify_ring(RING_ID, 24))]),
        'write-extra': ring_input(8, 2, 0, [socket(write_ring_extra(RING_ID, 0, 5)),
                                            batch(write_ring_extra(RING_ID, 0, 6)),
                                            batch(write_ring_extra(RING_ID, 4, 6)),
                                            batch(write_ring_extra(RING_ID, 2, 6))]),
        'execute-streams': ring_input(10, 2, 0, [
            indirect(seek(0) + seek(4) + set_reply(2, 0, 4096)),
            batch(execute_streams([(INDIRECT_RES_ID, 0, 16), (INDIRECT_RES_ID, 16, 52)]))]),
        # A stream that executes itself: the nesting limit ends it.
        'execute-streams-nested': ring_input(10, 2, 0, [
            indirect(execute_streams([(INDIRECT_RES_ID, 0, nested)])),
            batch(execute_streams([(INDIRECT_RES_ID, 0, nested)]))]),
        'execute-streams-outside-blob': ring_input(10, 2, 0, [
            batch(execute_streams([(INDIRECT_RES_ID, 65530, 16)]))]),
        'execute-streams-unknown-blob': ring_input(10, 2, 0, [
            batch(execute_streams([(9, 0, 16)]))]),
        'reply-stream-switch': ring_input(10, 2, 0, [
            batch(set_reply(INDIRECT_RES_ID, 1024, 1024) + seek(1024) + experimental_query()),
            batch(seek(1025))]),
        'second-ring-same-blob': ring_input(8, 2, 0, [
            batch(create_ring(0x99, 1, 192 + 256 + 4, 256, head=0, tail=64, status=128))]),
        'second-ring-other-blob': ring_input(8, 0, 0, [
            batch(create_ring(0x99, INDIRECT_RES_ID, 65536, 4096, idle_ns=0)),
            batch(seek(0))]),
        'ring-bad-regions': ring_input(8, 2, 0, [
            batch(create_ring(0x9a, INDIRECT_RES_ID, 65536, 3000)),
            batch(create_ring(0x9b, INDIRECT_RES_ID, 65536, 4096, tail=2)),
            batch(create_ring(0x9c, INDIRECT_RES_ID, 65536, 4096, extra=60000, extra_size=8000))]),
        'socket-and-ring': ring_input(8, 2, 0, [socket(seek(0)), batch(seek(8)),
                                                socket(notify_ring(RING_ID)), batch(seek(16))]),
        'instance-without-host-driver': ring_input(10, 2, 0, [batch(seek(0) + create_instance())]),
        # Current guests: the ring sets its own reply stream, is monitored and orders itself
        # against the transport with seqnos.
        'current-seqnos': ring_input(10, 2, 0, [socket(submit_virtqueue_seqno(RING_ID, 2)),
                                                batch(wait_virtqueue_seqno(2) + seek(0)),
                                                batch(wait_virtqueue_seqno(9)),
                                                socket(wait_ring_seqno(RING_ID, 4))],
                                     current=True, monitored=True),
        'current-wait-unknown-ring': ring_input(10, 2, 0, [socket(wait_ring_seqno(0x1234, 1)),
                                                           batch(seek(0))], current=True),
        'current-instance': ring_input(12, 2, 0, [batch(seek(0) + create_instance())],
                                       current=True, monitored=True),
    }


def recorded_ring(recordings, limit_bytes):
    seeds = {}
    by_recording = {}
    for name, ctx, k, data in recorded_batches(recordings):
        by_recording.setdefault((name, ctx), []).append((k, data))
    for (name, ctx), batches in sorted(by_recording.items()):
        batches.sort()
        # What went through the ring: the batches after vkCreateRingMESA, less the socket's own
        # ring commands (which name the recorded ring, not the target's).
        created = [i for i, (k, data) in enumerate(batches)
                   if struct.unpack_from('<I', data)[0] == CREATE_RING]
        batches = batches[created[0] + 1:] if created else batches
        steps, size = [], 0
        for k, data in batches:
            if len(data) > 4096 or struct.unpack_from('<I', data)[0] in (
                    CREATE_RING, DESTROY_RING, NOTIFY_RING, WRITE_RING_EXTRA):
                continue
            if size + len(data) + 3 > limit_bytes:
                break
            steps.append(batch(data))
            size += len(data) + 3
        # A current guest's session: its ring is monitored and keeps its own reply stream.
        current = any(struct.unpack_from('<I', data)[0] == CREATE_RING and
                      u32(STYPE_RING_MONITOR_INFO) in data for k, data in by_recording[(name, ctx)])
        if steps:
            seeds['rec-%s-ctx%d' % (name, ctx)] = ring_input(16, 2, 0, steps, current, current)
            small = [s for s in steps if len(s[1]) <= 512][:12]
            if small:
                seeds['rec-%s-ctx%d-wrapping' % (name, ctx)] = ring_input(10, 0, 0xfffffe00, small,
                                                                           current, current)
    return seeds


# -- vtest seeds ------------------------------------------------------------------------------

def vtest(command, payload=b'', length=None):
    if length is None:
        length = len(payload) if command == 8 else len(payload) // 4
    return u32(length, command) + payload


def submit(*batches, syncs=()):
    """SUBMIT_CMD2: batches of (flags, stream, sync_indices, queue_index, queue_id); syncs are
    (id, value) pairs that batches name by index."""
    count = len(batches)
    header_words = 1 + 8 * count
    streams_words = sum(len(b[1]) // 4 for b in batches)
    sync_base = header_words + streams_words
    words = [count]
    offset = header_words
    sync_offset = sync_base
    sync_blob = b''
    for flags, stream, sync_ids, queue_index, queue_id in batches:
        words += [flags, offset, len(stream) // 4, sync_offset, len(sync_ids), queue_index,
                  queue_id & 0xffffffff, queue_id >> 32]
        offset += len(stream) // 4
        for i in sync_ids:
            sid, value = syncs[i]
            sync_blob += u32(sid, value & 0xffffffff, value >> 32)
            sync_offset += 3
    payload = u32(*words) + b''.join(b[1] for b in batches) + sync_blob
    return vtest(24, payload)


CREATE_RENDERER, PING, BUSY_WAIT, PROTOCOL_VERSION, GET_PARAM, GET_CAPSET, CONTEXT_INIT = \
    8, 10, 7, 11, 15, 16, 17
CREATE_BLOB, UNREF, SYNC_CREATE, SYNC_WAIT, SYNC_UNREF = 18, 3, 19, 23, 20


def submit6(*batches, syncs=(), header_words=6):
    """SUBMIT_CMD2 as current guests send it: batches of (flags, stream, sync_indices,
    ring_idx) with 6-word headers (Mesa 25; 8 for Mesa 26)."""
    count = len(batches)
    words = [count]
    offset = 1 + header_words * count
    sync_offset = offset + sum(len(b[1]) // 4 for b in batches)
    sync_blob = b''
    for flags, stream, sync_ids, ring_idx in batches:
        words += [flags, offset, len(stream) // 4, sync_offset, len(sync_ids), ring_idx]
        words += [0] * (header_words - 6)
        offset += len(stream) // 4
        for i in sync_ids:
            sid, value = syncs[i]
            sync_blob += u32(sid, value & 0xffffffff, value >> 32)
            sync_offset += 3
    return vtest(24, u32(*words) + b''.join(b[1] for b in batches) + sync_blob)


SYNC_READ, SYNC_WRITE = 21, 22


def startup(name='fuzz'):
    return (vtest(CREATE_RENDERER, name.encode() + b'\0') + vtest(PING) +
            vtest(BUSY_WAIT, u32(0, 0)) + vtest(PROTOCOL_VERSION, u32(3)) +
            vtest(GET_PARAM, u32(1)) + vtest(GET_CAPSET, u32(4, 0)) + vtest(CONTEXT_INIT, u32(4)))


def blob(size, blob_type=2, flags=1, blob_id=0):
    return vtest(CREATE_BLOB, u32(blob_type, flags, size & 0xffffffff, size >> 32,
                                  blob_id & 0xffffffff, blob_id >> 32))


def handmade_vtest():
    simple = lambda stream: (1, stream, (), 0, 0)
    driver = (startup() + blob(1 << 20) + submit(simple(set_reply(1, 0, 1 << 20))) +
              submit(simple(seek(0))) + vtest(SYNC_CREATE, u32(0, 0)) +
              submit((0, experimental_query(), (0,), 0, 0), syncs=[(1, 1)]) +
              vtest(SYNC_WAIT, u32(0, 0xffffffff, 1, 1, 0)) + vtest(SYNC_UNREF, u32(1)) +
              blob(65732) + submit(simple(create_ring(0x7f00, 2, 65732, 65536))) +
              submit(simple(notify_ring(0x7f00, 64))) + vtest(UNREF, u32(2)) +
              submit(simple(destroy_ring(0x7f00))) + vtest(UNREF, u32(1)))
    return {
        'notes-driver-session': driver,
        'startup-only': startup(),
        'before-create-renderer': vtest(PING) + startup(),
        'create-renderer-twice': startup() + vtest(CREATE_RENDERER, b'again\0'),
        'context-init-twice': startup() + vtest(CONTEXT_INIT, u32(4)),
        'context-init-wrong-capset': vtest(CREATE_RENDERER, b'x\0') + vtest(CONTEXT_INIT, u32(1)),
        'blob-before-context': vtest(CREATE_RENDERER, b'x\0') + blob(4096),
        'name-unterminated-unprintable': vtest(CREATE_RENDERER, b'\x01\x7fname\xff') + vtest(PING),
        'name-empty': vtest(CREATE_RENDERER, b'') + vtest(PING),
        'name-long': vtest(CREATE_RENDERER, b'n' * 300 + b'\0') + vtest(PING),
        'unknown-command': startup() + vtest(99),
        'gl-command': startup() + vtest(1, u32(0)),
        'wrong-fixed-size': startup() + vtest(GET_PARAM, u32(1, 2)),
        'too-large': startup() + u32(0x100000, 24),
        'truncated-header': startup() + u32(1),
        'truncated-payload': startup() + u32(6, CREATE_BLOB) + u32(2, 1),
        'capset-unknown': vtest(CREATE_RENDERER, b'x\0') + vtest(GET_CAPSET, u32(5, 0)) +
                          vtest(GET_CAPSET, u32(4, 1)) + vtest(GET_PARAM, u32(7)) +
                          vtest(PROTOCOL_VERSION, u32(9)),
        'blobs': startup() + blob(4096) + blob(4096, blob_type=1) + blob(0) + blob(1 << 40) +
                 blob(4096, blob_type=3) + vtest(UNREF, u32(1)) + vtest(UNREF, u32(77)),
        'memory-blob': startup() + blob(65536, flags=3, blob_id=5) + blob(4096, blob_id=1 << 33),
        'submit-batch-count-overruns': startup() + vtest(24, u32(5, 1, 9, 0, 9, 0, 0, 0, 0)),
        'submit-stream-overruns': startup() + vtest(24, u32(1, 1, 9, 100, 9, 0, 0, 0, 0)),
        'submit-syncs-overrun': startup() + vtest(24, u32(1, 0, 9, 0, 9, 1000, 0, 0, 0)),
        'submit-unknown-flags': startup() + vtest(24, u32(1, 6, 9, 0, 9, 0, 0, 0, 0)),
        'submit-empty': startup() + vtest(24, b''),
        'submit-no-batches': startup() + vtest(24, u32(0)),
        'submit-fatal-stream': startup() + submit(simple(cmd(UNKNOWN_COMMAND))) + vtest(PING),
        'submit-sync-queue': startup() + vtest(SYNC_CREATE, u32(5, 0)) +
                             submit((1, seek(0), (0,), 3, 0x55aa00001000), syncs=[(1, 9)]) +
                             vtest(SYNC_WAIT, u32(1, 100, 1, 9, 0)),
        'submit-sync-queue-index-out-of-range': startup() + vtest(SYNC_CREATE, u32(0, 0)) +
                             submit((1, seek(0), (0,), 64, 0x1000), syncs=[(1, 1)]),
        'submit-sync-queue-unknown': startup() + vtest(SYNC_CREATE, u32(0, 0)) +
                             submit((1, seek(0), (0,), 0, 1 << 63), syncs=[(1, 1)]),
        'submit-unknown-sync': startup() + submit((0, seek(0), (0,), 0, 0), syncs=[(42, 1)]),
        'sync-wait-pending-then-signal': startup() + vtest(SYNC_CREATE, u32(0, 0)) +
                             vtest(SYNC_CREATE, u32(0, 0)) +
                             vtest(SYNC_WAIT, u32(0, 10, 1, 5, 0, 2, 1, 0)) +
                             vtest(SYNC_WAIT, u32(1, 10, 1, 5, 0, 2, 1, 0)) +
                             submit((0, seek(0), (0, 1), 0, 0), syncs=[(1, 7), (2, 1)]) +
                             submit((0, seek(0), (0,), 0, 0), syncs=[(1, 5)]),
        'sync-wait-hopeless': startup() + vtest(SYNC_CREATE, u32(0, 0)) +
                              vtest(SYNC_WAIT, u32(0, 10, 1, 5, 0)) + vtest(SYNC_UNREF, u32(1)) +
                              vtest(SYNC_UNREF, u32(1)),
        'sync-wait-bad': startup() + vtest(SYNC_CREATE, u32(0, 0)) +
                         vtest(SYNC_WAIT, u32(2, 10, 1, 5, 0)) + vtest(SYNC_WAIT, u32(0, 10, 1, 5)) +
                         vtest(SYNC_WAIT, u32(0, 10, 9, 5, 0)),
        'sync-wait-none': startup() + vtest(SYNC_WAIT, u32(0, 10)),
        'sync-many': startup() + vtest(SYNC_CREATE, u32(1, 0)) * 40 +
                     vtest(SYNC_WAIT, u32(0, 0xffffffff) + u32(3, 2, 0) * 30),
        # The current protocol: 6- and 8-word batch headers, ring indices, CPU-side syncs.
        'current-session': (startup() + blob(131268) +
                            submit6((1, create_ring(0x7f00, 1, 131268, 131072, idle_ns=1000000,
                                                    monitor_us=3000000), (), 0)) +
                            blob(1 << 20) + submit6((1, submit_virtqueue_seqno(0x7f00, 1), (), 0)) +
                            vtest(SYNC_CREATE, u32(0, 0)) + vtest(SYNC_READ, u32(1)) +
                            vtest(SYNC_WRITE, u32(1, 5, 0)) +
                            vtest(SYNC_WAIT, u32(0, 10, 1, 5, 0)) +
                            submit6((1, wait_ring_seqno(0x7f00, 0), (0,), 1), syncs=[(1, 9)],
                                    header_words=8) +
                            submit6((1, b'', (0,), 0), syncs=[(1, 10)]) +
                            vtest(SYNC_READ, u32(1)) +
                            submit6((1, destroy_ring(0x7f00), (), 0)) + vtest(UNREF, u32(1))),
        'current-header-size-wrong': startup() + vtest(24, u32(1, 1, 8, 0, 8, 0, 0, 0)),
        'current-ring-index-out-of-range': startup() + vtest(SYNC_CREATE, u32(0, 0)) +
                                           submit6((1, seek(0), (0,), 64), syncs=[(1, 1)]),
        'current-sync-read-write-unknown': startup() + vtest(SYNC_READ, u32(7)) +
                                           vtest(SYNC_WRITE, u32(7, 1, 0)),
    }


def recorded_vtest(recordings, max_size):
    seeds = {}
    for rec in recordings:
        name = os.path.basename(os.path.normpath(rec))
        for f in sorted(os.listdir(rec)):
            m = re.match(r'ctx-(\d+)\.vtest$', f)
            if m and os.path.getsize(os.path.join(rec, f)) <= max_size:
                with open(os.path.join(rec, f), 'rb') as fh:
                    seeds['rec-%s-ctx%s' % (name, m.group(1))] = fh.read()
    return seeds


# -- dictionary -------------------------------------------------------------------------------

def vulkan_enum_values(header):
    """Name -> value of the VkStructureType enumerants (aliases resolved) in vulkan_core.h."""
    values, aliases = {}, {}
    with open(header) as f:
        for m in re.finditer(r'^\s*(VK_STRUCTURE_TYPE_\w+) = (-?\d+|VK_STRUCTURE_TYPE_\w+),', f.read(),
                             re.M):
            if m.group(2).startswith('VK_'):
                aliases[m.group(1)] = m.group(2)
            else:
                values[m.group(1)] = int(m.group(2))
    for name, target in aliases.items():
        while target in aliases:
            target = aliases[target]
        if target in values:
            values[name] = values[target]
    return values


def write_dict(gen_dir, vk_header, out):
    """A libFuzzer dictionary for the decoder and ring targets: every sType the generated decoder
    accepts (so that pNext chains are found), the present marker and the fake objects' ids."""
    values = vulkan_enum_values(vk_header)
    with open(os.path.join(gen_dir, 'pv_venus_gen.h')) as f:
        for m in re.finditer(r'#define (VK_STRUCTURE_TYPE_\w+) \(\(VkStructureType\)(\d+)\)', f.read()):
            values[m.group(1)] = int(m.group(2))
    with open(os.path.join(gen_dir, 'pv_venus_gen.c')) as f:
        used = sorted(set(re.findall(r'\b(VK_STRUCTURE_TYPE_\w+)\b', f.read())))
    entries = sorted({values[name] for name in used if name in values})
    lines = ['# Generated by tests/fuzz/make_corpus.py --dict; every sType the decoder knows.']
    esc = lambda data: ''.join('\\x%02x' % b for b in data)
    for v in entries:
        lines.append('stype_%d="%s"' % (v, esc(u32(v))))
    lines.append('present="%s"' % esc(u64(1)))
    for i, name in enumerate(OBJECT_TYPES):
        lines.append('%s="%s"' % (name, esc(u64(fake_id(name)))))
    lines.append('ring="%s"' % esc(u64(RING_ID)))
    with open(out, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print('%s: %d entries' % (out, len(lines) - 1))


# -- writing ----------------------------------------------------------------------------------

SUFFIX = {'vtest': '.vtest', 'decoder': '.venus', 'ring': '.ring'}


def write_corpus(out, target, seeds):
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    seen = set()
    written = 0
    for name, data in sorted(seeds.items()):
        digest = hashlib.sha1(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        with open(os.path.join(folder, name + SUFFIX[target]), 'wb') as f:
            f.write(data)
        written += 1
    print('%s: %d seeds, %d bytes' % (folder, written, sum(len(d) for d in seeds.values())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--build', default=os.path.join(ROOT, 'build'))
    parser.add_argument('--out', default=os.path.join(HERE, 'corpus'))
    parser.add_argument('--decoder-seeds', type=int, default=60,
                        help='most recorded decoder seeds (the most varied are kept)')
    parser.add_argument('--dict', metavar='OUT',
                        help='only write the decoder and ring dictionary to OUT (from the generated '
                             'codec in --build and the Vulkan headers)')
    # The headers the codec is generated from (scripts/setup-vulkan-headers.sh), else the system's.
    project_header = os.path.join(ROOT, 'build', 'vulkan-headers', 'usr', 'include', 'vulkan',
                                  'vulkan_core.h')
    parser.add_argument('--vulkan-header', default=project_header if os.path.exists(project_header)
                        else '/usr/include/vulkan/vulkan_core.h')
    parser.add_argument('recordings', nargs='*')
    args = parser.parse_args()
    if args.dict:
        write_dict(args.build, args.vulkan_header, args.dict)
        return

    scratch = os.path.join(args.build, 'tests', 'fuzz', 'make-corpus-scratch.venus')
    os.makedirs(os.path.dirname(scratch), exist_ok=True)
    decoder = handmade_decoder()
    ring = handmade_ring()
    vt = handmade_vtest()
    if args.recordings:
        decoder.update(recorded_decoder(args.recordings, args.build, args.decoder_seeds, 8192,
                                        scratch))
        ring.update(recorded_ring(args.recordings, 8192))
        vt.update(recorded_vtest(args.recordings, 65536))
    write_corpus(args.out, 'decoder', decoder)
    write_corpus(args.out, 'ring', ring)
    write_corpus(args.out, 'vtest', vt)
    if os.path.exists(scratch):
        os.unlink(scratch)


if __name__ == '__main__':
    main()
