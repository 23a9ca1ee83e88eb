#!/usr/bin/python3
"""Generates PearVisor GPU's Venus protocol codec from the Vulkan registry.

Inputs: vk.xml (the Vulkan registry), venus_protocol.xml (the Venus wire numbers and the
MESA types and commands, in the registry's schema) and the renderer's command policy
(src/renderer/pv_commands.txt: which commands have hand-written handlers, which pass
through to the host driver as they are). Output: pv_venus_gen.h / pv_venus_gen.c with

- a decoder for every struct reachable from a Venus command (full form for inputs, the
  request "skeleton" form for outputs) and a reply encoder for every output struct;
- per command: an argument struct, a decoder, a reply encoder and a dispatch function that
  calls the hand-written handler, the host driver, or declares the command unimplemented;
- host dispatch tables (instance and device level) and their loaders;
- the command table (number, name, status) and the extension mask for the capset.

Standard library only. Wire rules are those of Mesa's Venus encoder (see
docs/protocol.md in the project): 4-byte slots, u64 array sizes and pointer markers, pNext
chains encoded element, rest of chain, then members.
"""

import argparse
import os
import re
import sys
import xml.etree.ElementTree as ET

# ----------------------------------------------------------------------------------------
# Registry model

FOUR_BYTE = {'uint32_t', 'int32_t', 'float', 'int'}
EIGHT_BYTE = {'uint64_t', 'int64_t', 'double'}


class Member:
    """A struct member or command parameter."""

    def __init__(self, elem):
        self.name = elem.find('name').text
        self.type = elem.find('type').text
        # the text of the declaration without its comment, which may hold any character
        parts = [elem.text or '']
        for child in elem:
            if child.tag != 'comment':
                parts.append(child.text or '')
            parts.append(child.tail or '')
        text = ''.join(parts)
        before, _, after = text.partition(self.name)
        self.const = before.strip().startswith('const')
        self.ptr = before.count('*')
        self.array = None            # fixed array size: int or constant name
        self.array2 = None           # second dimension (float matrix[3][4])
        dims = re.findall(r'\[([^\]]+)\]', after)
        if dims:
            self.array = int(dims[0]) if dims[0].isdigit() else dims[0]
            if len(dims) > 1:
                self.array2 = int(dims[1]) if dims[1].isdigit() else dims[1]
        self.bitfield = ':' in after.split('[')[0]
        self.len = elem.get('altlen') or elem.get('len')
        self.optional = elem.get('optional', '')
        self.noautovalidity = elem.get('noautovalidity') == 'true'
        self.values = elem.get('values')
        self.selector = elem.get('selector')
        # a u64 holding a handle whose type another member names (vkSetPrivateData)
        self.objecttype = elem.get('objecttype')
        self.owner = None            # the struct or command it belongs to

    @property
    def optional_first(self):
        return self.optional.split(',')[0] == 'true'


class TypeInfo:
    def __init__(self, name, category, elem=None):
        self.name = name
        self.category = category
        self.elem = elem
        self.members = []
        self.alias = None
        self.underlying = None        # basetype / bitmask underlying C type
        self.extends = []             # structextends
        self.returnedonly = False
        self.objtype = None           # handles: VkObjectType enumerant
        self.dispatchable = False
        self.parent = None


class Command:
    def __init__(self, name, ret, params):
        self.name = name
        self.ret = ret
        self.params = params
        self.number = None
        self.aliases = []


class Registry:
    def __init__(self):
        self.types = {}
        self.commands = {}
        self.command_alias = {}       # alias name -> command name
        self.stypes = {}              # struct name -> VK_STRUCTURE_TYPE_* enumerant
        self.stype_values = {}        # enumerant -> value (for MESA types)
        self.ext_numbers = {}         # extension name -> number
        self.ext_commands = {}        # extension name -> the commands it brings
        self.device_extensions = set()
        self.platform_exts = set()
        self.type_extension = {}      # type/command name -> extension number
        self.bitwidth64 = set()       # enum types that are 64-bit flags
        self.constants = {}
        self.platform_types = set()   # types outside vulkan.h: platform, provisional, Vulkan SC

    def load(self, root, venus=False):
        for t in root.findall('types/type'):
            name = t.get('name') or (t.find('name').text if t.find('name') is not None else None)
            cat = t.get('category') or 'base'
            if not name:
                continue
            if t.get('api') and 'vulkan' not in t.get('api').split(','):
                continue
            info = TypeInfo(name, cat, t)
            info.alias = t.get('alias')
            if cat in ('struct', 'union'):
                info.members = [Member(m) for m in t.findall('member')
                                if not m.get('api') or 'vulkan' in m.get('api').split(',')]
                for m in info.members:
                    m.owner = name
                info.extends = (t.get('structextends') or '').split(',') if t.get('structextends') else []
                info.returnedonly = t.get('returnedonly') == 'true'
                for m in info.members:
                    if m.name == 'sType' and m.values:
                        self.stypes[name] = m.values
            elif cat in ('basetype', 'bitmask'):
                inner = t.find('type')
                info.underlying = inner.text if inner is not None else t.get('type')
            elif cat == 'handle':
                info.objtype = t.get('objtypeenum')
                inner = t.find('type')
                info.dispatchable = inner is not None and inner.text == 'VK_DEFINE_HANDLE'
                info.parent = t.get('parent')
            self.types[name] = info
        for enums in root.findall('enums'):
            if enums.get('bitwidth') == '64':
                self.bitwidth64.add(enums.get('name'))
            if enums.get('name') == 'API Constants':
                for e in enums.findall('enum'):
                    self.constants[e.get('name')] = e.get('value') or e.get('alias')
        for c in root.findall('commands/command'):
            if c.get('api') and 'vulkan' not in c.get('api').split(','):
                continue
            if c.get('alias'):
                self.command_alias[c.get('name')] = c.get('alias')
                continue
            proto = c.find('proto')
            if proto is None:
                continue
            name = proto.find('name').text
            ret = proto.find('type').text
            params = [Member(p) for p in c.findall('param')
                      if not p.get('api') or 'vulkan' in p.get('api').split(',')]
            for p in params:
                p.owner = name
            self.commands[name] = Command(name, ret, params)
        # Types of Vulkan SC only (its features and extensions) are not in vulkan.h either.
        vulkan_types, other_types = set(), set()
        for feature in root.findall('feature'):
            apis = (feature.get('api') or 'vulkan').split(',')
            for req in feature.findall('require'):
                for t in req.findall('type'):
                    (vulkan_types if 'vulkan' in apis else other_types).add(t.get('name'))
        for ext in root.findall('extensions/extension'):
            supported = (ext.get('supported') or 'vulkan').split(',')
            if 'vulkan' not in supported:
                for req in ext.findall('require'):
                    for t in req.findall('type'):
                        other_types.add(t.get('name'))
                continue
            for req in ext.findall('require'):
                apis = (req.get('api') or 'vulkan').split(',')
                for t in req.findall('type'):
                    (vulkan_types if 'vulkan' in apis else other_types).add(t.get('name'))
        self.platform_types |= other_types - vulkan_types
        for ext in root.findall('extensions/extension'):
            if 'vulkan' not in (ext.get('supported') or 'vulkan').split(','):
                continue
            number = int(ext.get('number'))
            self.ext_numbers[ext.get('name')] = number
            if ext.get('type') == 'device':
                self.device_extensions.add(ext.get('name'))
            commands = self.ext_commands.setdefault(ext.get('name'), set())
            for req in ext.findall('require'):
                # Commands that also need another extension come with that one: they count
                # against it, not against this one (extended dynamic state 3 brings NV
                # commands only together with their NV extensions).
                depends = req.get('depends') or ''
                needs_extension = any(not d.startswith('VK_VERSION_')
                                      for d in re.split(r'[+,()]', depends) if d)
                if 'vulkan' in (req.get('api') or 'vulkan').split(',') and not needs_extension:
                    commands.update(c.get('name') for c in req.findall('command'))
            # platform and provisional types live outside vulkan.h: not for this host
            if ext.get('platform') or ext.get('provisional') == 'true':
                self.platform_exts.add(ext.get('name'))
                for req in ext.findall('require'):
                    for t in req.findall('type'):
                        self.platform_types.add(t.get('name'))
            for req in ext.findall('require'):
                for t in req.findall('type'):
                    self.type_extension.setdefault(t.get('name'), number)
                for c in req.findall('command'):
                    self.type_extension.setdefault(c.get('name'), number)
        if venus:
            for s in root.findall('stypes/stype'):
                self.stype_values[s.get('name')] = s.get('value')

    def resolve(self, name):
        seen = set()
        while name in self.types and self.types[name].alias and name not in seen:
            seen.add(name)
            name = self.types[name].alias
        return name

    def info(self, name):
        return self.types.get(self.resolve(name))

    def command(self, name):
        return self.commands.get(self.command_alias.get(name, name))


class Undecodable(Exception):
    pass


# Handles carried as a plain u64 with their type in a sibling member (the registry's
# objecttype attribute) where the specification allows VK_NULL_HANDLE although the registry
# does not mark the member optional.
NULL_OBJECT_HANDLES = {
    ('VkDebugUtilsObjectNameInfoEXT', 'objectHandle'),
    ('vkDebugReportMessageEXT', 'object'),
}


def object_handle_problem(members, m):
    """Why a u64 handle typed by a sibling (objecttype) cannot be translated, or None. Such a
    value is a guest object id like any other handle: the host looks it up as an object of the
    type the sibling names and passes the host handle on; a raw guest value must never reach
    the host driver, which would take it for an object pointer."""
    names = [x.name for x in members]
    if m.objecttype not in names:
        return f'{m.name}: its type member {m.objecttype} is missing'
    sibling = members[names.index(m.objecttype)]
    if sibling.type != 'VkObjectType':
        return f'{m.name}: a handle typed by {sibling.type}, which this host does not translate'
    if names.index(m.objecttype) > names.index(m.name):
        return f'{m.name}: its type member {m.objecttype} comes after it'
    if m.ptr or m.array is not None or scalar_kind_name(m) != 'uint64_t':
        return f'{m.name}: a typed object handle that is not a plain uint64_t'
    return None


# ----------------------------------------------------------------------------------------
# Wire kinds

def scalar_kind(reg, tname):
    """'u8', 'u16', 'u32', 'u64', 'size', or None when tname is not a plain scalar."""
    tname = reg.resolve(tname)
    if tname in ('uint8_t', 'char'):
        return 'u8'
    if tname == 'uint16_t':
        return 'u16'
    if tname in FOUR_BYTE:
        return 'u32'
    if tname in EIGHT_BYTE:
        return 'u64'
    if tname == 'size_t':
        return 'size'
    info = reg.types.get(tname)
    if info is None:
        return None
    if info.category == 'enum':
        return 'u64' if tname in reg.bitwidth64 else 'u32'
    if info.category in ('basetype', 'bitmask'):
        if info.underlying is None:
            return None
        return scalar_kind(reg, info.underlying)
    return None


def kind_of(reg, tname):
    if tname == 'void':
        return 'void'
    k = scalar_kind(reg, tname)
    if k:
        return k
    info = reg.info(tname)
    if info is None:
        return 'void' if tname == 'void' else 'unknown'
    if info.category == 'handle':
        return 'handle'
    if info.category in ('struct', 'union'):
        return info.category
    if info.category == 'funcpointer':
        return 'pfn'
    return 'unknown'


def min_wire_bytes(reg, tname):
    k = kind_of(reg, tname)
    if k in ('u64', 'size', 'handle'):
        return 8
    if k in ('u8', 'u16', 'u32', 'struct', 'union'):
        return 4
    return 4


def c_const(reg, value):
    return str(value)


# ----------------------------------------------------------------------------------------
# Length expressions

def len_expr(expr, names, prefix):
    """Turns a registry length into C: identifiers that name a sibling become prefix+name;
    pointer siblings used as counts are dereferenced with a NULL check."""
    expr = expr.split(',')[0]

    def sub(m):
        ident = m.group(0)
        if ident in names:
            member = names[ident]
            if member.ptr and scalar_kind_name(member) is not None:
                return f'({prefix}{ident} ? *{prefix}{ident} : 0)'
            return f'{prefix}{ident}'
        return ident
    out = re.sub(r'(?<![>.\w])[A-Za-z_]\w*', sub, expr)
    # a->b where a is a pointer parameter: guard against NULL
    m = re.match(r'^(\w+)->(\w+)$', expr)
    if m and m.group(1) in names:
        out = f'({prefix}{m.group(1)} ? {prefix}{m.group(1)}->{m.group(2)} : 0)'
    return out


def scalar_kind_name(member):
    return member.type if member.type in ('uint32_t', 'size_t', 'uint64_t') else None


# ----------------------------------------------------------------------------------------
# Code generation

class Gen:
    def __init__(self, reg, venus_root, policy, checked=frozenset()):
        self.reg = reg
        self.venus_root = venus_root
        self.policy = policy
        self.checked = checked       # commands and structs with a hand-written pv_check_
        self.h = []
        self.c = []
        self.need_decode = set()     # structs needing full decoders
        self.need_partial = set()    # structs needing skeleton decoders
        self.need_encode = set()     # structs needing reply encoders
        self.undecodable = {}        # struct -> reason
        self.cmd_undecodable = {}    # command -> reason
        self.commands = []           # (number, Command)
        self.bad_extensions = set()
        self.roles = {}              # command -> [(param, role)]

    # -- reachability -------------------------------------------------------------------

    def extenders(self, sname):
        out = []
        for name, info in self.reg.types.items():
            if info.category == 'struct' and not info.alias and sname in info.extends:
                if name in self.reg.stypes:
                    out.append(name)
        return sorted(out, key=lambda n: self.stype_value_key(n))

    def stype_value_key(self, sname):
        return self.reg.stypes.get(sname, '')

    def struct_problem(self, sname, seen=None):
        """Why a struct cannot cross the protocol, or None."""
        if sname in self.undecodable:
            return self.undecodable[sname]
        seen = seen or set()
        if sname in seen:
            return None
        seen.add(sname)
        info = self.reg.info(sname)
        reason = None
        if info is None:
            reason = f'{sname} is not in the registry'
        elif sname in self.reg.platform_types:
            reason = f'{sname} is platform-specific'
        elif sname == 'VkAllocationCallbacks':
            reason = 'host allocators cannot cross the protocol'
        else:
            for m in info.members:
                r = self.member_problem(info, m, seen)
                if r:
                    reason = f'{sname}.{m.name}: {r}'
                    break
        if reason:
            self.undecodable[sname] = reason
        return reason

    def member_problem(self, info, m, seen):
        if m.bitfield:
            return 'bit fields have no wire form'
        if m.name == 'pNext':
            return None
        k = kind_of(self.reg, m.type)
        if m.type == 'int' and m.name in ('fd', 'pFd'):
            return 'file descriptors cannot cross the protocol'
        if k in ('pfn', 'unknown'):
            return f'type {m.type} has no wire form'
        if k == 'void':
            if m.ptr == 1 and m.len:
                return None
            return 'untyped pointer without a length'
        if m.ptr >= 2 and not (m.type == 'char' and m.ptr == 2 and m.len):
            return 'pointer to pointer'
        if m.ptr == 1 and m.type == 'char' and not m.len:
            return 'char pointer without a length'
        if k in ('struct', 'union'):
            return self.struct_problem(self.reg.resolve(m.type), seen)
        if info.category == 'union' and m.ptr:
            return 'pointers in unions'
        if m.objecttype:
            return object_handle_problem(info.members, m)
        return None

    def visit(self, sname, mode):
        """mode: 'decode' (input), 'partial' (output skeleton), 'encode' (reply)."""
        sname = self.reg.resolve(sname)
        target = {'decode': self.need_decode, 'partial': self.need_partial,
                  'encode': self.need_encode}[mode]
        if sname in target or self.struct_problem(sname):
            return
        target.add(sname)
        info = self.reg.info(sname)
        for m in info.members:
            if m.name == 'pNext':
                for e in self.extenders(sname):
                    if not self.struct_problem(e):
                        self.visit(e, mode)
                continue
            if kind_of(self.reg, m.type) in ('struct', 'union'):
                self.visit(m.type, mode)

    # -- struct codegen -----------------------------------------------------------------

    def member_map(self, info):
        return {m.name: m for m in info.members}

    def fixed_count(self, m):
        return c_const(self.reg, m.array)

    def emit_decode_value(self, out, m, lhs, indent, names, prefix, optional_handle):
        """Decodes one non-pointer value of member m into lhs (an lvalue)."""
        k = kind_of(self.reg, m.type)
        sp = ' ' * indent
        if m.objecttype:
            # checked by object_handle_problem when the struct or command was classified
            optional = 'true' if (m.owner, m.name) in NULL_OBJECT_HANDLES else 'false'
            out.append(f'{sp}if (!pv_cs_handle_lookup(d, (VkObjectType){prefix}{m.objecttype}, {optional}, &{lhs}, NULL)) return false;')
        elif k in ('u32',):
            out.append(f'{sp}if (!pv_cs_u32(d, &{lhs})) return false;')
        elif k == 'u64':
            out.append(f'{sp}if (!pv_cs_u64(d, &{lhs})) return false;')
        elif k == 'size':
            out.append(f'{sp}if (!pv_cs_size(d, &{lhs})) return false;')
        elif k == 'u16':
            out.append(f'{sp}if (!pv_cs_u16(d, &{lhs})) return false;')
        elif k == 'u8':
            out.append(f'{sp}if (!pv_cs_u8(d, (uint8_t *)&{lhs})) return false;')
        elif k == 'handle':
            hinfo = self.reg.info(m.type)
            opt = 'true' if optional_handle else 'false'
            out.append(f'{sp}if (!pv_cs_handle(d, {hinfo.objtype}, {opt}, (uint64_t *)&{lhs}, NULL)) return false;')
        elif k in ('struct', 'union'):
            out.append(f'{sp}if (!pv_decode_{self.reg.resolve(m.type)}(d, &{lhs})) return false;')
        else:
            raise Undecodable(f'{m.type}')

    def handle_optional(self, m):
        return m.optional_first or m.noautovalidity

    def emit_struct_decode(self, sname):
        info = self.reg.info(sname)
        c = self.c
        names = self.member_map(info)
        c.append(f'static bool pv_decode_{sname}(struct pv_cs_decoder *d, {sname} *v)')
        c.append('{')
        if info.category == 'union':
            c.append('    uint32_t tag;')
            c.append('    if (!pv_cs_u32(d, &tag)) return false;')
            c.append('    switch (tag) {')
            for i, m in enumerate(info.members):
                c.append(f'    case {i}:')
                body = []
                self.emit_member_decode(body, m, 'v->', names, 8)
                c.extend(body)
                c.append('        return true;')
            c.append('    default:')
            c.append(f'        return pv_cs_fail(d, "{sname}: bad union tag %u", tag);')
            c.append('    }')
            c.append('}')
            c.append('')
            return
        for m in info.members:
            self.emit_member_decode(c, m, 'v->', names, 4, sname)
        self.emit_struct_check(c, sname)
        c.append('    return true;')
        c.append('}')
        c.append('')

    def emit_struct_check(self, c, sname):
        """What the registry cannot say (which member a type selects, ranges against objects)
        is checked by hand once the whole struct, chain included, is decoded."""
        if sname in self.checked:
            c.append(f'    if (!pv_check_{sname}(d, v)) return false;')

    def emit_member_decode(self, c, m, prefix, names, indent, sname=None):
        sp = ' ' * indent
        lhs = f'{prefix}{m.name}'
        k = kind_of(self.reg, m.type)
        if m.name == 'sType' and sname and sname in self.reg.stypes:
            c.append(f'{sp}if (!pv_cs_u32(d, &{lhs})) return false;')
            c.append(f'{sp}if ({lhs} != {self.reg.stypes[sname]}) return pv_cs_fail(d, "{sname}: unexpected sType %d", (int){lhs});')
            return
        if m.name == 'pNext':
            c.append(f'{sp}if (!pv_decode_pnext_{sname}(d, (const void **)&{lhs})) return false;')
            return
        if m.array is not None and m.ptr == 0:
            n = self.fixed_count(m)
            c.append(f'{sp}{{')
            c.append(f'{sp}    uint64_t n;')
            if m.type == 'char':
                c.append(f'{sp}    if (!pv_cs_char_array(d, {lhs}, {n})) return false;')
                c.append(f'{sp}    (void)n;')
            else:
                c.append(f'{sp}    if (!pv_cs_array_size(d, &n, {min_wire_bytes(self.reg, m.type)})) return false;')
                c.append(f'{sp}    if (n > {n}) return pv_cs_fail(d, "{m.name}: %llu elements for {n}", (unsigned long long)n);')
                if m.array2 is not None:
                    # matrices travel row by row, each with its own size
                    c.append(f'{sp}    for (uint64_t i = 0; i < n; i++) {{')
                    c.append(f'{sp}        uint64_t n2;')
                    c.append(f'{sp}        if (!pv_cs_array_size(d, &n2, 4)) return false;')
                    c.append(f'{sp}        if (n2 > {m.array2}) return pv_cs_fail(d, "{m.name}: row too long");')
                    c.append(f'{sp}        if (!pv_cs_u32_array(d, {lhs}[i], n2)) return false;')
                    c.append(f'{sp}    }}')
                elif k == 'u32':
                    c.append(f'{sp}    if (!pv_cs_u32_array(d, {lhs}, n)) return false;')
                elif k in ('u8',):
                    c.append(f'{sp}    if (!pv_cs_bytes(d, {lhs}, n)) return false;')
                else:
                    c.append(f'{sp}    for (uint64_t i = 0; i < n; i++) {{')
                    self.emit_decode_value(c, m, f'{lhs}[i]', indent + 8, names, prefix,
                                           self.handle_optional(m))
                    c.append(f'{sp}    }}')
            c.append(f'{sp}}}')
            return
        if m.ptr == 0:
            self.emit_decode_value(c, m, lhs, indent, names, prefix, self.handle_optional(m))
            return
        # pointers
        if m.type == 'char' and m.ptr == 1:
            c.append(f'{sp}if (!pv_cs_string(d, &{lhs})) return false;')
            return
        if m.type == 'char' and m.ptr == 2:
            count = len_expr(m.len, names, prefix)
            c.append(f'{sp}{{')
            c.append(f'{sp}    uint64_t n;')
            c.append(f'{sp}    if (!pv_cs_array_size(d, &n, 8)) return false;')
            c.append(f'{sp}    if (n && n != (uint64_t)({count})) return pv_cs_fail(d, "{m.name}: %llu strings for count %llu", (unsigned long long)n, (unsigned long long)({count}));')
            c.append(f'{sp}    if (!n && ({count})) return pv_cs_fail(d, "{m.name}: missing");')
            c.append(f'{sp}    const char **arr = n ? pv_cs_alloc(d, n, sizeof(*arr)) : NULL;')
            c.append(f'{sp}    if (n && !arr) return false;')
            c.append(f'{sp}    for (uint64_t i = 0; i < n; i++) {{')
            c.append(f'{sp}        if (!pv_cs_string(d, &arr[i])) return false;')
            # a name list with a hole would reach the host as a NULL name
            c.append(f'{sp}        if (!arr[i]) return pv_cs_fail(d, "{m.name}[%llu]: no string", (unsigned long long)i);')
            c.append(f'{sp}    }}')
            c.append(f'{sp}    {lhs} = arr;')
            c.append(f'{sp}}}')
            return
        if m.len:
            count = len_expr(m.len, names, prefix)
            optional = m.optional_first or m.noautovalidity
            whole = re.match(r'^(\w+) / (\d+)$', m.len)
            if whole and whole.group(1) in names:
                # A byte size counted in elements (codeSize / 4): the host driver reads the
                # size, so one that is not a whole, non-zero number of elements would have it
                # read past the array, or from NULL.
                size, unit = f'{prefix}{whole.group(1)}', whole.group(2)
                c.append(f'{sp}if (!{size} || {size} % {unit}) return pv_cs_fail(d, "{whole.group(1)} %llu is not a positive multiple of {unit}", (unsigned long long){size});')
            c.append(f'{sp}{{')
            c.append(f'{sp}    uint64_t n;')
            if k == 'void':
                c.append(f'{sp}    if (!pv_cs_array_size(d, &n, 1)) return false;')
            else:
                c.append(f'{sp}    if (!pv_cs_array_size(d, &n, {min_wire_bytes(self.reg, m.type)})) return false;')
            c.append(f'{sp}    if (n && n != (uint64_t)({count})) return pv_cs_fail(d, "{m.name}: %llu elements for count %llu", (unsigned long long)n, (unsigned long long)({count}));')
            if not optional:
                c.append(f'{sp}    if (!n && ({count})) return pv_cs_fail(d, "{m.name}: missing");')
            if k == 'void':
                # opaque bytes stay in the stream: no copy for push constants and the like
                c.append(f'{sp}    const void *arr = n ? pv_cs_bytes_view(d, n) : NULL;')
                c.append(f'{sp}    if (n && !arr) return false;')
            else:
                ctype = m.type
                c.append(f'{sp}    {ctype} *arr = n ? pv_cs_alloc(d, n, sizeof(*arr)) : NULL;')
                c.append(f'{sp}    if (n && !arr) return false;')
                if k == 'u32':
                    c.append(f'{sp}    if (n && !pv_cs_u32_array(d, arr, n)) return false;')
                elif k == 'u64':
                    c.append(f'{sp}    if (n && !pv_cs_u64_array(d, arr, n)) return false;')
                elif k == 'u8':
                    c.append(f'{sp}    if (n && !pv_cs_bytes(d, arr, n)) return false;')
                else:
                    c.append(f'{sp}    for (uint64_t i = 0; i < n; i++) {{')
                    self.emit_decode_value(c, m, 'arr[i]', indent + 8, names, prefix,
                                           self.handle_optional(m))
                    c.append(f'{sp}    }}')
            c.append(f'{sp}    {lhs} = arr;')
            c.append(f'{sp}}}')
            return
        # pointer to one item
        c.append(f'{sp}{{')
        c.append(f'{sp}    bool present;')
        c.append(f'{sp}    if (!pv_cs_marker(d, &present)) return false;')
        if not (m.optional_first or m.noautovalidity):
            c.append(f'{sp}    if (!present) return pv_cs_fail(d, "{m.name}: missing");')
        c.append(f'{sp}    if (present) {{')
        c.append(f'{sp}        {m.type} *p = pv_cs_alloc(d, 1, sizeof(*p));')
        c.append(f'{sp}        if (!p) return false;')
        self.emit_decode_value(c, m, '*p', indent + 8, names, prefix, self.handle_optional(m))
        c.append(f'{sp}        {lhs} = p;')
        c.append(f'{sp}    }}')
        c.append(f'{sp}}}')

    def emit_pnext_decode(self, sname, partial):
        c = self.c
        sfx = '_partial' if partial else ''
        c.append(f'static bool pv_decode_pnext{sfx}_{sname}(struct pv_cs_decoder *d, const void **out)')
        c.append('{')
        c.append('    bool present;')
        c.append('    if (!pv_cs_marker(d, &present)) return false;')
        c.append('    if (!present) { *out = NULL; return true; }')
        c.append('    if (++d->chain_depth > PV_CS_MAX_CHAIN_DEPTH) return pv_cs_fail(d, "pNext chain too long");')
        c.append('    VkStructureType stype;')
        c.append('    if (!pv_cs_u32(d, &stype)) return false;')
        c.append('    switch ((int)stype) {')
        for e in self.extenders(sname):
            if self.struct_problem(e):
                continue
            c.append(f'    case {self.reg.stypes[e]}: {{')
            c.append(f'        {e} *s = pv_cs_alloc(d, 1, sizeof(*s));')
            c.append('        if (!s) return false;')
            c.append('        s->sType = stype;')
            c.append(f'        if (!pv_decode_pnext{sfx}_{sname}(d, (const void **)&s->pNext)) return false;')
            c.append(f'        if (!pv_decode{sfx}_self_{e}(d, s)) return false;')
            c.append('        *out = s;')
            c.append('        d->chain_depth--;')
            c.append('        return true;')
            c.append('    }')
        c.append('    default:')
        c.append(f'        return pv_cs_fail(d, "unknown sType %d in the pNext chain of {sname}", (int)stype);')
        c.append('    }')
        c.append('}')
        c.append('')

    def emit_self_decode(self, sname, partial):
        """Members after sType/pNext, for chain elements."""
        info = self.reg.info(sname)
        names = self.member_map(info)
        c = self.c
        sfx = '_partial' if partial else ''
        c.append(f'static bool pv_decode{sfx}_self_{sname}(struct pv_cs_decoder *d, {sname} *v)')
        c.append('{')
        for m in info.members:
            if m.name in ('sType', 'pNext'):
                continue
            if partial:
                self.emit_member_partial(c, m, 'v->', names, 4)
            else:
                self.emit_member_decode(c, m, 'v->', names, 4, sname)
        if not partial:
            self.emit_struct_check(c, sname)
        c.append('    (void)d; (void)v;')
        c.append('    return true;')
        c.append('}')
        c.append('')

    def emit_member_partial(self, c, m, prefix, names, indent):
        """Output skeletons carry sTypes, chains, handles, nested skeletons and array sizes;
        plain output values are left out."""
        sp = ' ' * indent
        lhs = f'{prefix}{m.name}'
        k = kind_of(self.reg, m.type)
        if m.array is not None and m.ptr == 0:
            if k == 'handle' or k == 'struct':
                n = self.fixed_count(m)
                c.append(f'{sp}{{')
                c.append(f'{sp}    uint64_t n;')
                c.append(f'{sp}    if (!pv_cs_array_size(d, &n, 0)) return false;')
                c.append(f'{sp}    if (n > {n}) return pv_cs_fail(d, "{m.name}: %llu elements for {n}", (unsigned long long)n);')
                c.append(f'{sp}    for (uint64_t i = 0; i < n; i++) {{')
                if k == 'handle':
                    c.append(f'{sp}        uint64_t ignored;')
                    c.append(f'{sp}        if (!pv_cs_u64(d, &ignored)) return false;')
                else:
                    c.append(f'{sp}        if (!pv_decode_partial_{self.reg.resolve(m.type)}(d, &{lhs}[i])) return false;')
                c.append(f'{sp}    }}')
                c.append(f'{sp}}}')
            return
        if m.ptr == 0:
            if k == 'handle':
                c.append(f'{sp}{{ uint64_t ignored; if (!pv_cs_u64(d, &ignored)) return false; }}')
            elif k == 'struct':
                c.append(f'{sp}if (!pv_decode_partial_{self.reg.resolve(m.type)}(d, &{lhs})) return false;')
            return
        if m.len and k == 'struct':
            count_member = m.len.split(',')[0]
            c.append(f'{sp}{{')
            c.append(f'{sp}    uint64_t n;')
            c.append(f'{sp}    if (!pv_cs_array_size(d, &n, 0)) return false;')
            c.append(f'{sp}    {m.type} *arr = n ? pv_cs_alloc(d, n, sizeof(*arr)) : NULL;')
            c.append(f'{sp}    if (n && !arr) return false;')
            c.append(f'{sp}    for (uint64_t i = 0; i < n; i++)')
            c.append(f'{sp}        if (!pv_decode_partial_{self.reg.resolve(m.type)}(d, &arr[i])) return false;')
            c.append(f'{sp}    {lhs} = arr;')
            if count_member in names:
                c.append(f'{sp}    {prefix}{count_member} = ({names[count_member].type})n;')
            c.append(f'{sp}}}')
            return
        if m.len:
            count_member = m.len.split(',')[0]
            c.append(f'{sp}{{')
            c.append(f'{sp}    uint64_t n;')
            c.append(f'{sp}    if (!pv_cs_array_size(d, &n, 0)) return false;')
            c.append(f'{sp}    {m.type} *arr = n ? pv_cs_alloc(d, n, sizeof(*arr)) : NULL;')
            c.append(f'{sp}    if (n && !arr) return false;')
            c.append(f'{sp}    {lhs} = arr;')
            if count_member in names:
                c.append(f'{sp}    {prefix}{count_member} = ({names[count_member].type})n;')
            c.append(f'{sp}}}')
            return

    def emit_struct_partial(self, sname):
        info = self.reg.info(sname)
        names = self.member_map(info)
        c = self.c
        c.append(f'static bool pv_decode_partial_{sname}(struct pv_cs_decoder *d, {sname} *v)')
        c.append('{')
        if sname in self.reg.stypes:
            c.append('    if (!pv_cs_u32(d, &v->sType)) return false;')
            c.append(f'    if (v->sType != {self.reg.stypes[sname]}) return pv_cs_fail(d, "{sname}: unexpected sType %d", (int)v->sType);')
            c.append(f'    if (!pv_decode_pnext_partial_{sname}(d, (const void **)&v->pNext)) return false;')
            c.append(f'    return pv_decode_partial_self_{sname}(d, v);')
        else:
            for m in info.members:
                self.emit_member_partial(c, m, 'v->', names, 4)
            c.append('    (void)d; (void)v;')
            c.append('    return true;')
        c.append('}')
        c.append('')

    # -- encoders -----------------------------------------------------------------------

    def emit_encode_value(self, c, m, rhs, indent):
        sp = ' ' * indent
        k = kind_of(self.reg, m.type)
        if k in ('u32',):
            c.append(f'{sp}pv_cse_bytes(e, &{rhs}, 4);')
        elif k in ('u64',):
            c.append(f'{sp}pv_cse_bytes(e, &{rhs}, 8);')
        elif k == 'size':
            c.append(f'{sp}pv_cse_u64(e, (uint64_t){rhs});')
        elif k in ('u16', 'u8'):
            c.append(f'{sp}pv_cse_u32(e, (uint32_t){rhs});')
        elif k == 'handle':
            hinfo = self.reg.info(m.type)
            c.append(f'{sp}pv_cse_handle(e, {hinfo.objtype}, (uint64_t){rhs});')
        elif k == 'struct':
            c.append(f'{sp}pv_encode_{self.reg.resolve(m.type)}(e, &{rhs});')
        elif k == 'union':
            c.append(f'{sp}pv_encode_{self.reg.resolve(m.type)}(e, &{rhs});')

    def emit_member_encode(self, c, m, prefix, names, indent):
        sp = ' ' * indent
        rhs = f'{prefix}{m.name}'
        k = kind_of(self.reg, m.type)
        if m.array is not None and m.ptr == 0:
            n = self.fixed_count(m)
            c.append(f'{sp}pv_cse_u64(e, {n});')
            if m.type == 'char' or k == 'u8':
                c.append(f'{sp}pv_cse_bytes(e, {rhs}, {n});')
            elif m.array2 is not None:
                c.append(f'{sp}for (uint32_t i = 0; i < {n}; i++) {{')
                c.append(f'{sp}    pv_cse_u64(e, {m.array2});')
                c.append(f'{sp}    pv_cse_bytes(e, {rhs}[i], 4 * {m.array2});')
                c.append(f'{sp}}}')
            elif k == 'u32':
                c.append(f'{sp}pv_cse_bytes(e, {rhs}, 4 * {n});')
            else:
                c.append(f'{sp}for (uint32_t i = 0; i < {n}; i++) {{')
                self.emit_encode_value(c, m, f'{rhs}[i]', indent + 4)
                c.append(f'{sp}}}')
            return
        if m.ptr == 0 and m.objecttype:
            # host handles go back as the guest's ids, like every handle in a reply
            c.append(f'{sp}pv_cse_handle(e, (VkObjectType){prefix}{m.objecttype}, {rhs});')
            return
        if m.ptr == 0:
            self.emit_encode_value(c, m, rhs, indent)
            return
        if m.type == 'char' and m.ptr == 1:
            c.append(f'{sp}if ({rhs}) {{ size_t n = strlen({rhs}) + 1; pv_cse_u64(e, n); pv_cse_bytes(e, {rhs}, n); }}')
            c.append(f'{sp}else pv_cse_u64(e, 0);')
            return
        if m.len:
            count = len_expr(m.len, names, prefix)
            c.append(f'{sp}if ({rhs}) {{')
            c.append(f'{sp}    pv_cse_u64(e, (uint64_t)({count}));')
            if k == 'void' or k == 'u8':
                c.append(f'{sp}    pv_cse_bytes(e, {rhs}, (size_t)({count}));')
            else:
                c.append(f'{sp}    for (uint64_t i = 0; i < (uint64_t)({count}); i++) {{')
                self.emit_encode_value(c, m, f'{rhs}[i]', indent + 8)
                c.append(f'{sp}    }}')
            c.append(f'{sp}}} else {{')
            c.append(f'{sp}    pv_cse_u64(e, 0);')
            c.append(f'{sp}}}')
            return
        c.append(f'{sp}if ({rhs}) {{')
        c.append(f'{sp}    pv_cse_u64(e, 1);')
        self.emit_encode_value(c, m, f'(*{rhs})', indent + 4)
        c.append(f'{sp}}} else {{')
        c.append(f'{sp}    pv_cse_u64(e, 0);')
        c.append(f'{sp}}}')

    def emit_struct_encode(self, sname):
        info = self.reg.info(sname)
        names = self.member_map(info)
        c = self.c
        if info.category == 'union':
            c.append(f'static void pv_encode_{sname}(struct pv_cs_encoder *e, const {sname} *v)')
            c.append('{')
            c.append('    pv_cse_u32(e, 0);   /* replies use the first member */')
            self.emit_member_encode(c, info.members[0], 'v->', names, 4)
            c.append('}')
            c.append('')
            return
        has_chain = sname in self.reg.stypes
        if has_chain:
            c.append(f'static void pv_encode_self_{sname}(struct pv_cs_encoder *e, const {sname} *v)')
            c.append('{')
            for m in info.members:
                if m.name in ('sType', 'pNext'):
                    continue
                self.emit_member_encode(c, m, 'v->', names, 4)
            c.append('    (void)e; (void)v;')
            c.append('}')
            c.append('')
            c.append(f'static void pv_encode_pnext_{sname}(struct pv_cs_encoder *e, const void *chain)')
            c.append('{')
            c.append('    for (const VkBaseInStructure *s = chain; s; s = s->pNext) {')
            c.append('        switch ((int)s->sType) {')
            for ext in self.extenders(sname):
                if self.struct_problem(ext):
                    continue
                c.append(f'        case {self.reg.stypes[ext]}:')
                c.append('            pv_cse_u64(e, 1);')
                c.append('            pv_cse_u32(e, (uint32_t)s->sType);')
                c.append(f'            pv_encode_pnext_{sname}(e, s->pNext);')
                c.append(f'            pv_encode_self_{ext}(e, (const {ext} *)s);')
                c.append('            return;')
            c.append('        default:')
            c.append('            break;   /* not ours to report: skip it */')
            c.append('        }')
            c.append('    }')
            c.append('    pv_cse_u64(e, 0);')
            c.append('}')
            c.append('')
        c.append(f'static void pv_encode_{sname}(struct pv_cs_encoder *e, const {sname} *v)')
        c.append('{')
        if has_chain:
            c.append('    pv_cse_u32(e, (uint32_t)v->sType);')
            c.append(f'    pv_encode_pnext_{sname}(e, v->pNext);')
            c.append(f'    pv_encode_self_{sname}(e, v);')
        else:
            for m in info.members:
                self.emit_member_encode(c, m, 'v->', names, 4)
            c.append('    (void)e; (void)v;')
        c.append('}')
        c.append('')

    # -- commands -----------------------------------------------------------------------

    def classify(self, cmd):
        """Role of each parameter on the wire."""
        names = {p.name: p for p in cmd.params}
        len_targets = set()
        for p in cmd.params:
            if p.len:
                first = p.len.split(',')[0]
                if first in names:
                    len_targets.add(first)
        roles = []
        for p in cmd.params:
            k = kind_of(self.reg, p.type)
            if p.type == 'int':
                raise Undecodable('file descriptors cannot cross the protocol')
            if p.objecttype:
                problem = object_handle_problem(cmd.params, p)
                if problem:
                    raise Undecodable(problem)
            if p.type == 'VkAllocationCallbacks':
                role = 'allocator'
            elif p.ptr == 0:
                if k in ('struct', 'union', 'void', 'pfn', 'unknown'):
                    raise Undecodable(f'parameter {p.name} of type {p.type}')
                role = 'in'
            elif p.const:
                if p.ptr == 1 and p.type == 'char':
                    role = 'in_string'
                elif p.ptr == 1 and p.len:
                    if k == 'void':
                        role = 'in_blob'
                    else:
                        role = 'in_array'
                elif p.ptr == 1 and k not in ('void', 'pfn', 'unknown'):
                    role = 'in_struct'   # a pointer to one input item
                else:
                    raise Undecodable(f'parameter {p.name}')
            else:
                if p.ptr != 1:
                    raise Undecodable(f'parameter {p.name} is a pointer to a pointer')
                if p.type == 'int':
                    raise Undecodable('file descriptors cannot cross the protocol')
                if p.name in len_targets and k in ('u32', 'size', 'u64'):
                    role = 'inout_count'
                elif k == 'handle':
                    role = 'out_handle_array' if p.len else 'out_handle'
                elif k == 'void':
                    if not p.len:
                        raise Undecodable(f'untyped output {p.name} without a length')
                    role = 'out_blob'
                elif k in ('struct',):
                    role = 'out_struct_array' if p.len else 'out_struct'
                elif k in ('u32', 'u64', 'size', 'u8', 'u16'):
                    role = 'out_scalar_array' if p.len else 'out_scalar'
                else:
                    raise Undecodable(f'parameter {p.name} of type {p.type}')
            if k in ('struct', 'union'):
                problem = self.struct_problem(self.reg.resolve(p.type))
                if problem and role != 'allocator':
                    raise Undecodable(problem)
            roles.append((p, role))
        if cmd.ret not in ('void', 'VkResult', 'VkBool32', 'uint32_t', 'uint64_t', 'VkDeviceAddress',
                           'VkDeviceSize'):
            raise Undecodable(f'return type {cmd.ret}')
        return roles

    def ret_wire(self, ret):
        return {'VkResult': 4, 'VkBool32': 4, 'uint32_t': 4}.get(ret, 8)

    def emit_command(self, number, cmd):
        reg = self.reg
        h, c = self.h, self.c
        name = cmd.name
        try:
            roles = self.classify(cmd)
        except Undecodable as e:
            self.cmd_undecodable[name] = str(e)
            return
        self.roles[name] = roles
        for p, role in roles:
            if role in ('in_struct', 'in_array') and kind_of(reg, p.type) in ('struct', 'union'):
                self.visit(p.type, 'decode')
            if role in ('out_struct', 'out_struct_array'):
                self.visit(p.type, 'partial')
                self.visit(p.type, 'encode')
        names = {p.name: p for p in cmd.params}

        # argument struct
        h.append(f'struct pv_args_{name} {{')
        for p, role in roles:
            ctype = p.type
            if role == 'allocator':
                h.append(f'    const VkAllocationCallbacks *{p.name};')
            elif role == 'in' and p.array is not None:
                h.append(f'    {ctype} {p.name}[{p.array}];')
            elif role == 'in':
                h.append(f'    {ctype} {p.name};')
                if kind_of(reg, p.type) == 'handle':
                    h.append(f'    struct pv_object *{p.name}_object;')
            elif role == 'in_string':
                h.append(f'    const char *{p.name};')
            elif role in ('in_array', 'in_struct'):
                h.append(f'    const {ctype} *{p.name};')
            elif role == 'in_blob':
                h.append(f'    const void *{p.name};')
            elif role == 'out_blob':
                h.append(f'    void *{p.name};')
            else:
                h.append(f'    {ctype} *{p.name};')
                if role == 'out_handle':
                    h.append(f'    uint64_t {p.name}_id;   /* the guest\'s id for the new object */')
                if role == 'out_handle_array':
                    h.append(f'    uint64_t *{p.name}_ids;')
                    h.append(f'    uint32_t {p.name}_count;')
        if cmd.ret != 'void':
            h.append(f'    {cmd.ret} ret;')
        h.append('    char unused_;')
        h.append('};')
        h.append('')

        # decoder
        c.append(f'static bool pv_decode_cmd_{name}(struct pv_cs_decoder *d, struct pv_args_{name} *a)')
        c.append('{')
        for p, role in roles:
            self.emit_param_decode(c, p, role, names)
        c.append('    (void)d; (void)a;')
        c.append('    return true;')
        c.append('}')
        c.append('')

        c.append(f'static bool pv_decode_only_{name}(struct pv_cs_decoder *d)')
        c.append('{')
        c.append(f'    struct pv_args_{name} a = {{0}};')
        c.append(f'    return pv_decode_cmd_{name}(d, &a);')
        c.append('}')
        c.append('')

        # reply encoder
        c.append(f'static void pv_encode_reply_{name}(struct pv_cs_encoder *e, const struct pv_args_{name} *a)')
        c.append('{')
        c.append(f'    pv_cse_u32(e, {number});')
        if cmd.ret != 'void':
            c.append(f'    pv_cse_bytes(e, &a->ret, {self.ret_wire(cmd.ret)});')
        for p, role in roles:
            self.emit_param_reply(c, p, role, names)
        c.append('    (void)e; (void)a;')
        c.append('}')
        c.append('')
        self.commands.append((number, cmd))

    def emit_param_decode(self, c, p, role, names):
        reg = self.reg
        lhs = f'a->{p.name}'
        k = kind_of(reg, p.type)
        if role == 'allocator':
            c.append('    {')
            c.append('        bool present;')
            c.append('        if (!pv_cs_marker(d, &present)) return false;')
            c.append(f'        if (present) return pv_cs_fail(d, "{p.name}: host allocators cannot cross the protocol");')
            c.append('    }')
        elif role == 'in' and p.array is not None:
            self.emit_member_decode(c, p, 'a->', names, 4)
        elif role == 'in':
            if k == 'handle':
                hinfo = reg.info(p.type)
                opt = 'true' if p.optional_first else 'false'
                c.append(f'    if (!pv_cs_handle(d, {hinfo.objtype}, {opt}, (uint64_t *)&{lhs}, &{lhs}_object)) return false;')
            else:
                self.emit_decode_value(c, p, lhs, 4, names, 'a->', False)
        elif role in ('in_string', 'in_array', 'in_blob', 'in_struct'):
            self.emit_member_decode(c, p, 'a->', names, 4)
        elif role == 'inout_count':
            c.append('    {')
            c.append('        bool present;')
            c.append('        if (!pv_cs_marker(d, &present)) return false;')
            if not p.optional_first:
                c.append(f'        if (!present) return pv_cs_fail(d, "{p.name}: missing");')
            c.append('        if (present) {')
            c.append(f'            {lhs} = pv_cs_alloc(d, 1, sizeof(*{lhs}));')
            c.append(f'            if (!{lhs}) return false;')
            self.emit_decode_value(c, p, f'*{lhs}', 12, names, 'a->', False)
            c.append('        }')
            c.append('    }')
        elif role == 'out_handle':
            c.append('    {')
            c.append('        bool present;')
            c.append('        if (!pv_cs_marker(d, &present)) return false;')
            c.append(f'        if (!present) return pv_cs_fail(d, "{p.name}: missing");')
            c.append(f'        if (!pv_cs_u64(d, &{lhs}_id)) return false;')
            c.append(f'        {lhs} = pv_cs_alloc(d, 1, sizeof(*{lhs}));')
            c.append(f'        if (!{lhs}) return false;')
            c.append('    }')
        elif role == 'out_handle_array':
            count = len_expr(p.len, names, 'a->')
            c.append('    {')
            c.append('        uint64_t n;')
            c.append('        if (!pv_cs_array_size(d, &n, 8)) return false;')
            c.append(f'        if (n != (uint64_t)({count})) return pv_cs_fail(d, "{p.name}: %llu ids for count %llu", (unsigned long long)n, (unsigned long long)({count}));')
            c.append(f'        {lhs}_ids = n ? pv_cs_alloc(d, n, sizeof(uint64_t)) : NULL;')
            c.append(f'        {lhs} = n ? pv_cs_alloc(d, n, sizeof(*{lhs})) : NULL;')
            c.append(f'        if (n && (!{lhs}_ids || !{lhs})) return false;')
            c.append(f'        if (n && !pv_cs_u64_array(d, {lhs}_ids, n)) return false;')
            c.append(f'        {lhs}_count = (uint32_t)n;')
            c.append('    }')
        elif role == 'out_scalar':
            c.append('    {')
            c.append('        bool present;')
            c.append('        if (!pv_cs_marker(d, &present)) return false;')
            if not p.optional_first:
                # the host driver writes the result through it
                c.append(f'        if (!present) return pv_cs_fail(d, "{p.name}: missing");')
            c.append(f'        {lhs} = present ? pv_cs_alloc(d, 1, sizeof(*{lhs})) : NULL;')
            c.append(f'        if (present && !{lhs}) return false;')
            c.append('    }')
        elif role in ('out_scalar_array', 'out_blob', 'out_struct_array'):
            count = len_expr(p.len, names, 'a->')
            elem = '1' if role == 'out_blob' else f'sizeof(*{lhs})'
            c.append('    {')
            c.append('        uint64_t n;')
            c.append('        if (!pv_cs_array_size(d, &n, 0)) return false;')
            c.append(f'        if (n && n != (uint64_t)({count})) return pv_cs_fail(d, "{p.name}: capacity %llu for count %llu", (unsigned long long)n, (unsigned long long)({count}));')
            if not p.optional_first:
                # the host driver writes count elements: NULL is no place for them
                c.append(f'        if (!n && ({count})) return pv_cs_fail(d, "{p.name}: missing for count %llu", (unsigned long long)({count}));')
            c.append(f'        {lhs} = n ? pv_cs_alloc(d, n, {elem}) : NULL;')
            c.append(f'        if (n && !{lhs}) return false;')
            if role == 'out_struct_array':
                c.append('        for (uint64_t i = 0; i < n; i++)')
                c.append(f'            if (!pv_decode_partial_{reg.resolve(p.type)}(d, &{lhs}[i])) return false;')
            c.append('    }')
        elif role == 'out_struct':
            c.append('    {')
            c.append('        bool present;')
            c.append('        if (!pv_cs_marker(d, &present)) return false;')
            c.append(f'        if (!present) return pv_cs_fail(d, "{p.name}: missing");')
            c.append(f'        {lhs} = pv_cs_alloc(d, 1, sizeof(*{lhs}));')
            c.append(f'        if (!{lhs} || !pv_decode_partial_{reg.resolve(p.type)}(d, {lhs})) return false;')
            c.append('    }')

    def emit_param_reply(self, c, p, role, names):
        reg = self.reg
        v = f'a->{p.name}'
        if role in ('allocator', 'in', 'in_string', 'in_array', 'in_blob', 'in_struct'):
            return
        if role == 'inout_count' or role == 'out_scalar':
            c.append(f'    if ({v}) {{')
            c.append('        pv_cse_u64(e, 1);')
            self.emit_encode_value(c, p, f'(*{v})', 8)
            c.append('    } else {')
            c.append('        pv_cse_u64(e, 0);')
            c.append('    }')
        elif role == 'out_handle':
            c.append('    pv_cse_u64(e, 1);')
            c.append(f'    pv_cse_u64(e, {v}_id);')
        elif role == 'out_handle_array':
            c.append(f'    pv_cse_u64(e, {v}_count);')
            c.append(f'    for (uint32_t i = 0; i < {v}_count; i++)')
            c.append(f'        pv_cse_u64(e, {v}_ids[i]);')
        elif role in ('out_scalar_array', 'out_blob', 'out_struct_array'):
            count = len_expr(p.len, names, 'a->')
            c.append(f'    if ({v}) {{')
            c.append(f'        pv_cse_u64(e, (uint64_t)({count}));')
            if role == 'out_blob':
                c.append(f'        pv_cse_bytes(e, {v}, (size_t)({count}));')
            else:
                c.append(f'        for (uint64_t i = 0; i < (uint64_t)({count}); i++) {{')
                self.emit_encode_value(c, p, f'{v}[i]', 12)
                c.append('        }')
            c.append('    } else {')
            c.append('        pv_cse_u64(e, 0);')
            c.append('    }')
        elif role == 'out_struct':
            c.append('    pv_cse_u64(e, 1);')
            c.append(f'    pv_encode_{reg.resolve(p.type)}(e, {v});')

    # -- dispatch -----------------------------------------------------------------------

    def dispatch_level(self, cmd):
        if not cmd.params:
            return 'global'
        first = reg_first = self.reg.resolve(cmd.params[0].type)
        if first in ('VkInstance', 'VkPhysicalDevice'):
            return 'instance'
        if first in ('VkDevice', 'VkQueue', 'VkCommandBuffer'):
            return 'device'
        return 'global'

    def host_commands(self):
        """Vulkan commands the host dispatch tables carry: every decodable non-MESA command."""
        out = []
        for number, cmd in self.commands:
            if cmd.name.endswith('MESA'):
                continue
            out.append(cmd)
        return out

    def emit_dispatch_tables(self):
        h, c, reg = self.h, self.c, self.reg
        cmds = self.host_commands()
        for level in ('instance', 'device'):
            h.append(f'struct pv_{level}_dispatch {{')
            for cmd in cmds:
                if self.dispatch_level(cmd) == level:
                    h.append(f'    PFN_{cmd.name} {cmd.name};')
            h.append('};')
            h.append('')
        h.append('void pv_instance_dispatch_init(struct pv_instance_dispatch *t, PFN_vkGetInstanceProcAddr gipa, VkInstance instance);')
        h.append('void pv_device_dispatch_init(struct pv_device_dispatch *t, PFN_vkGetDeviceProcAddr gdpa, VkDevice device);')
        h.append('')
        aliases = {}
        for alias, target in reg.command_alias.items():
            aliases.setdefault(target, []).append(alias)
        for level, getter, obj in (('instance', 'gipa', 'instance'), ('device', 'gdpa', 'device')):
            ptype = 'PFN_vkGetInstanceProcAddr' if level == 'instance' else 'PFN_vkGetDeviceProcAddr'
            otype = 'VkInstance' if level == 'instance' else 'VkDevice'
            c.append(f'void pv_{level}_dispatch_init(struct pv_{level}_dispatch *t, {ptype} {getter}, {otype} {obj})')
            c.append('{')
            c.append('    PFN_vkVoidFunction f;')
            for cmd in cmds:
                if self.dispatch_level(cmd) != level:
                    continue
                names = [cmd.name] + sorted(aliases.get(cmd.name, []))
                cond = ' && '.join(['!(f = %s(%s, "%s"))' % (getter, obj, n) for n in names])
                c.append(f'    if ({cond}) f = NULL;')
                c.append(f'    t->{cmd.name} = (PFN_{cmd.name})f;')
            c.append('}')
            c.append('')

    def emit_dispatchers(self):
        h, c = self.h, self.c
        h.append('/* Hand-written handlers, one per command the policy marks "handler". They run after the')
        h.append(' * command decoded; they set a->ret (where the command returns something) and the outputs,')
        h.append(' * or make the context fatal. */')
        for number, cmd in self.commands:
            if self.policy.get(cmd.name) == 'handler':
                h.append(f'void pv_handle_{cmd.name}(struct pv_context *ctx, struct pv_args_{cmd.name} *a);')
        h.append('')
        h.append('/* Hand-written checks (pv_commands.txt marks them "checked"): of a command once decoded,')
        h.append(' * before it runs (false: the context is fatal), and of a struct once decoded (false: the')
        h.append(' * decode failed, with the reason). */')
        known = {cmd.name for number, cmd in self.commands}
        for name in sorted(self.checked):
            if name in known:
                h.append(f'bool pv_check_{name}(struct pv_context *ctx, const struct pv_args_{name} *a);')
            elif name in self.need_decode:
                h.append(f'bool pv_check_{name}(struct pv_cs_decoder *d, const {name} *v);')
            else:
                raise SystemExit(f'{name}: checked, but no decoded command or input struct has this name')
        h.append('')
        for number, cmd in self.commands:
            name = cmd.name
            how = self.policy.get(name, 'unimplemented')
            c.append(f'static void pv_dispatch_{name}(struct pv_context *ctx, struct pv_cs_decoder *d, uint32_t flags)')
            c.append('{')
            c.append(f'    struct pv_args_{name} a = {{0}};')
            c.append(f'    if (!pv_decode_cmd_{name}(d, &a)) return;')
            if name in self.checked:
                c.append(f'    if (!pv_check_{name}(ctx, &a)) return;')
            if how == 'handler':
                c.append(f'    pv_handle_{name}(ctx, &a);')
            elif how in ('passthrough', 'create', 'destroy'):
                level = self.dispatch_level(cmd)
                if level not in ('instance', 'device'):
                    raise SystemExit(f'{name}: passthrough needs a dispatchable first parameter')
                first = cmd.params[0].name
                table = f'a.{first}_object->instance->dispatch' if level == 'instance' else f'a.{first}_object->device->dispatch'
                c.append(f'    PFN_{name} fn = {table}.{name};')
                c.append(f'    if (!fn) {{ pv_context_set_fatal(ctx, "{name}: the host driver does not provide it"); return; }}')
                args = ', '.join(f'a.{p.name}' for p in cmd.params)
                if cmd.ret == 'void':
                    c.append(f'    fn({args});')
                else:
                    c.append(f'    a.ret = fn({args});')
                if how == 'create':
                    self.emit_create_binding(c, cmd, first)
                if how == 'destroy':
                    victim = cmd.params[1]
                    if kind_of(self.reg, victim.type) != 'handle' or victim.ptr:
                        raise SystemExit(f'{name}: destroy needs the object as second parameter')
                    c.append(f'    if (a.{victim.name}_object) pv_context_forget_object(ctx, a.{victim.name}_object);')
            else:
                c.append(f'    pv_context_set_fatal(ctx, "{name}: not implemented by this host");')
                c.append('    return;')
            roles = dict((p.name, r) for p, r in self.roles[name])
            if cmd.ret == 'VkResult' and any(r in ('out_handle', 'out_handle_array') for r in roles.values()):
                # A creation the guest sent without asking for the result (current drivers
                # allocate memory so): it goes on as if the object existed, so a failure here
                # can only end the context, with the real reason rather than an unknown id later.
                c.append('    if (a.ret < VK_SUCCESS && !(flags & VK_COMMAND_GENERATE_REPLY_BIT_EXT)) {')
                c.append(f'        pv_context_set_fatal(ctx, "{name} failed (%d) and the guest did not ask for the result", a.ret);')
                c.append('        return;')
                c.append('    }')
            c.append('    if (flags & VK_COMMAND_GENERATE_REPLY_BIT_EXT) {')
            c.append('        struct pv_cs_encoder e;')
            c.append('        if (!pv_context_reply_begin(ctx, &e)) return;')
            c.append(f'        pv_encode_reply_{name}(&e, &a);')
            c.append(f'        pv_context_reply_end(ctx, &e, "{name}");')
            c.append('    }')
            c.append('}')
            c.append('')

    def emit_create_binding(self, c, cmd, first):
        """After a successful host creation, binds the guest ids to the new host objects."""
        roles = self.roles[cmd.name]
        outs = [(p, r) for p, r in roles if r in ('out_handle', 'out_handle_array')]
        if len(outs) != 1:
            raise SystemExit(f'{cmd.name}: create needs exactly one created handle')
        p, role = outs[0]
        objtype = self.reg.info(p.type).objtype
        ok = 'a.ret >= VK_SUCCESS' if cmd.ret == 'VkResult' else 'true'
        if role == 'out_handle':
            c.append(f'    if ({ok} && !pv_context_bind_object(ctx, a.{first}_object, {objtype}, a.{p.name}_id, (uint64_t)*a.{p.name})) return;')
        else:
            c.append(f'    for (uint32_t i = 0; {ok} && i < a.{p.name}_count; i++) {{')
            c.append(f'        if (a.{p.name}[i] && !pv_context_bind_object(ctx, a.{first}_object, {objtype}, a.{p.name}_ids[i], (uint64_t)a.{p.name}[i])) return;')
            c.append('    }')

    def emit_host_destroy(self):
        """pv_destroy_host_object: destroys a device child by type, for teardown."""
        h, c = self.h, self.c
        h.append('struct pv_device;')
        h.append('/* Destroys a host object of a device by type; false if the type has no destroy command. */')
        h.append('bool pv_destroy_host_object(struct pv_device *device, VkObjectType type, uint64_t handle);')
        h.append('')
        c.append('bool pv_destroy_host_object(struct pv_device *device, VkObjectType type, uint64_t handle)')
        c.append('{')
        c.append('    switch ((int)type) {')
        for number, cmd in self.commands:
            ps = cmd.params
            if not (cmd.name.startswith('vkDestroy') or cmd.name == 'vkFreeMemory'):
                continue
            if len(ps) != 3 or ps[0].type != 'VkDevice' or ps[2].type != 'VkAllocationCallbacks':
                continue
            info = self.reg.info(ps[1].type)
            if info is None or info.category != 'handle' or not info.objtype:
                continue
            c.append(f'    case {info.objtype}:')
            c.append(f'        if (!device->dispatch.{cmd.name}) return false;')
            c.append(f'        device->dispatch.{cmd.name}(device->handle, ({ps[1].type})(uintptr_t)handle, NULL);')
            c.append('        return true;')
        c.append('    default:')
        c.append('        return false;')
        c.append('    }')
        c.append('}')
        c.append('')

    def emit_command_table(self):
        h, c = self.h, self.c
        h.append('struct pv_command_info {')
        h.append('    const char *name;')
        h.append('    const char *status;   /* implemented, unimplemented, undecodable */')
        h.append('    void (*dispatch)(struct pv_context *ctx, struct pv_cs_decoder *d, uint32_t flags);')
        h.append('    const char *why;      /* undecodable: the reason */')
        h.append('    /* Decodes the arguments and nothing else: for fuzzing and stream checks. */')
        h.append('    bool (*decode_only)(struct pv_cs_decoder *d);')
        h.append('};')
        h.append(f'#define PV_COMMAND_COUNT {self.max_number + 1}')
        h.append('extern const struct pv_command_info pv_command_table[PV_COMMAND_COUNT];')
        h.append('')
        c.append('const struct pv_command_info pv_command_table[PV_COMMAND_COUNT] = {')
        by_number = {n: cmd for n, cmd in self.commands}
        for n in range(self.max_number + 1):
            name = self.number_names.get(n)
            if name is None:
                c.append(f'    [{n}] = {{ NULL, "unknown", NULL, "no command has this number", NULL }},')
            elif n in by_number:
                how = self.policy.get(name, 'unimplemented')
                status = 'unimplemented' if how == 'unimplemented' else 'implemented'
                c.append(f'    [{n}] = {{ "{name}", "{status}", pv_dispatch_{name}, NULL, pv_decode_only_{name} }},')
            else:
                why = self.cmd_undecodable.get(name, 'unknown').replace('"', "'")
                c.append(f'    [{n}] = {{ "{name}", "undecodable", NULL, "{why}", NULL }},')
        c.append('};')
        c.append('')

    def extension_problem(self, ext):
        """Why the host cannot serve an extension, or None. The guest takes every extension the
        host enumerates and its own encoder knows, then sends its commands: an extension is
        served only if each of its commands has a wire number and a policy here, or is one the
        protocol leaves to the guest (fds, host pointers), and all its structs decode."""
        reg = self.reg
        number = reg.ext_numbers[ext]
        for tname, n in reg.type_extension.items():
            info = reg.types.get(tname)
            if n == number and info is not None and info.category in ('struct', 'union') \
                    and not info.alias and self.struct_problem(tname):
                return f'struct {tname} does not decode'
        for name in sorted(reg.ext_commands.get(ext, ())):
            cmd = reg.command(name)
            if cmd is None:
                return f'{name} is not in the registry'
            wire = self.wire_names.get(cmd.name)
            if wire is None:
                return f'{name} has no wire number'
            if wire in self.cmd_undecodable:
                if self.guest_implements(wire):
                    continue
                return f'{name} does not decode: {self.cmd_undecodable[wire]}'
            if wire not in self.policy:
                return f'{name} is not implemented'
        return None

    def guest_implements(self, wire):
        """Whether the guest driver implements an undecodable command itself: what carries file
        descriptors, returns host pointers or function pointers, or reads untyped template data
        (the driver re-encodes template updates as plain ones)."""
        why = self.cmd_undecodable[wire]
        return any(k in why for k in ('file descriptors', 'pointer to a pointer', 'PFN_',
                                      'parameter pData', 'VkPushDescriptorSetWithTemplateInfo.pData'))

    def emit_served_extensions(self):
        """The capset's extension mask and the list of device extensions the host serves."""
        reg = self.reg
        mask = [0] * 32
        mask[0] |= 1   # the mask is valid
        served = []
        self.extension_report = {}
        for ext, number in sorted(reg.ext_numbers.items()):
            problem = self.extension_problem(ext) if ext not in reg.platform_exts else 'platform-specific'
            self.extension_report[ext] = problem
            if problem or number >= 1024:
                continue
            mask[number // 32] |= 1 << (number % 32)
            if ext in reg.device_extensions:
                served.append(ext)
        self.h.append('extern const uint32_t pv_venus_extension_mask[32];')
        self.c.append('const uint32_t pv_venus_extension_mask[32] = {')
        self.c.append('    ' + ', '.join('0x%08x' % m for m in mask))
        self.c.append('};')
        self.c.append('')
        self.h.append('/* Device extensions the host serves, sorted by name (strcmp order). */')
        self.h.append(f'#define PV_SERVED_DEVICE_EXTENSION_COUNT {len(served)}')
        self.h.append('extern const char *const pv_served_device_extensions[PV_SERVED_DEVICE_EXTENSION_COUNT];')
        self.c.append('const char *const pv_served_device_extensions[PV_SERVED_DEVICE_EXTENSION_COUNT] = {')
        for ext in sorted(served):
            self.c.append(f'    "{ext}",')
        self.c.append('};')
        self.c.append('')

    # -- top level ----------------------------------------------------------------------

    def run(self):
        reg = self.reg
        numbers = {}
        for e in self.venus_root.find('numbers'):
            numbers[int(e.get('number'))] = e.get('name')
        self.max_number = max(numbers)
        self.number_names = numbers
        self.wire_names = {}
        for name in numbers.values():
            cmd = reg.command(name)
            self.wire_names[cmd.name if cmd else name] = name
        for n in sorted(numbers):
            cmd = reg.command(numbers[n])
            if cmd is None:
                self.cmd_undecodable[numbers[n]] = 'not in the registry'
                continue
            if cmd.name != numbers[n]:
                # the wire name is an alias (e.g. an EXT name); keep the wire name
                cmd = Command(numbers[n], cmd.ret, cmd.params)
            cmd.number = n
            self.emit_command(n, cmd)
        cmd_c = self.c
        self.c = []
        # structs: forward declarations, then bodies
        decl = []
        for s in sorted(self.need_decode):
            info = reg.info(s)
            decl.append(f'static bool pv_decode_{s}(struct pv_cs_decoder *d, {s} *v);')
            if s in reg.stypes:
                decl.append(f'static bool pv_decode_pnext_{s}(struct pv_cs_decoder *d, const void **out);')
                decl.append(f'static bool pv_decode_self_{s}(struct pv_cs_decoder *d, {s} *v);')
        for s in sorted(self.need_partial):
            decl.append(f'static bool pv_decode_partial_{s}(struct pv_cs_decoder *d, {s} *v);')
            if s in reg.stypes:
                decl.append(f'static bool pv_decode_pnext_partial_{s}(struct pv_cs_decoder *d, const void **out);')
                decl.append(f'static bool pv_decode_partial_self_{s}(struct pv_cs_decoder *d, {s} *v);')
        for s in sorted(self.need_encode):
            decl.append(f'static void pv_encode_{s}(struct pv_cs_encoder *e, const {s} *v);')
            if s in reg.stypes:
                decl.append(f'static void pv_encode_pnext_{s}(struct pv_cs_encoder *e, const void *chain);')
                decl.append(f'static void pv_encode_self_{s}(struct pv_cs_encoder *e, const {s} *v);')
        self.c.extend(decl)
        self.c.append('')
        for s in sorted(self.need_decode):
            self.emit_struct_decode(s)
            if s in reg.stypes:
                self.emit_pnext_decode(s, False)
                self.emit_self_decode(s, False)
        for s in sorted(self.need_partial):
            self.emit_struct_partial(s)
            if s in reg.stypes:
                self.emit_pnext_decode(s, True)
                self.emit_self_decode(s, True)
        for s in sorted(self.need_encode):
            self.emit_struct_encode(s)
        struct_c = self.c
        self.c = []
        self.emit_dispatch_tables()
        self.emit_dispatchers()
        self.emit_host_destroy()
        self.emit_command_table()
        self.emit_served_extensions()
        tail_c = self.c
        self.c = struct_c + cmd_c + tail_c

    def write(self, out_dir):
        reg = self.reg
        hdr = [
            '/* Generated by tools/gen/gen_venus.py from the Vulkan registry and',
            ' * tools/gen/venus_protocol.xml. Do not edit. */',
            '#ifndef PV_VENUS_GEN_H',
            '#define PV_VENUS_GEN_H',
            '',
            '#include <stdbool.h>',
            '#include <stdint.h>',
            '#include <vulkan/vulkan.h>',
            '',
            'struct pv_context;',
            'struct pv_object;',
            'struct pv_cs_decoder;',
            'struct pv_cs_encoder;',
            '',
            '/* The Venus protocol\'s own types. */',
            'typedef enum VkCommandFlagBitsEXT { VK_COMMAND_GENERATE_REPLY_BIT_EXT = 1 } VkCommandFlagBitsEXT;',
            'typedef VkFlags VkCommandFlagsEXT;',
            'typedef VkFlags VkCommandStreamExecutionFlagsMESA;',
            'typedef VkFlags VkRingCreateFlagsMESA;',
            'typedef VkFlags VkRingNotifyFlagsMESA;',
            'typedef int32_t VkCommandTypeEXT;',
        ]
        for name, value in sorted(reg.stype_values.items(), key=lambda kv: kv[1]):
            hdr.append(f'#define {name} ((VkStructureType){value})')
        hdr.append('')
        for t in self.venus_root.find('types'):
            if t.get('category') != 'struct':
                continue
            hdr.append(f'typedef struct {t.get("name")} {{')
            for m in t.findall('member'):
                text = ''.join(m.itertext()).strip()
                hdr.append(f'    {text};')
            hdr.append(f'}} {t.get("name")};')
            hdr.append('')
        hdr.append('/* Decodes one command (type and flags already read) and runs it. */')
        hdr.append('')
        body = hdr + self.h + ['#endif', '']
        with open(os.path.join(out_dir, 'pv_venus_gen.h'), 'w') as f:
            f.write('\n'.join(body))
        src = [
            '/* Generated by tools/gen/gen_venus.py. Do not edit. */',
            '#include "pv_venus_gen.h"',
            '',
            '#include <string.h>',
            '',
            '#include "pv_cs.h"',
            '#include "pv_context.h"',
            '#include "pv_device.h"',
            '#include "pv_object.h"',
            '',
            '#if defined(__GNUC__)',
            '#pragma GCC diagnostic ignored "-Wunused-function"',
            '#pragma GCC diagnostic ignored "-Wtype-limits"',
            '#pragma GCC diagnostic ignored "-Wcast-qual"',
            '#if !defined(__clang__)',
            '#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"',
            '#endif',
            '#endif',
            '',
        ]
        with open(os.path.join(out_dir, 'pv_venus_gen.c'), 'w') as f:
            f.write('\n'.join(src + self.c + ['']))


def load_policy(path):
    """Returns (policy, checked): how each command runs, and the commands and structs that a
    hand-written pv_check_<name> checks once decoded."""
    policy, checked = {}, set()
    if not path:
        return policy, checked
    with open(path) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if not line:
                continue
            words = line.split()
            name, how = words[0], words[1]
            if how == 'checked' and len(words) == 2:
                checked.add(name)
                continue
            if how not in ('handler', 'passthrough', 'create', 'destroy'):
                raise SystemExit(f'{path}: {name}: unknown policy {how}')
            if words[2:] == ['checked']:
                checked.add(name)
            elif words[2:]:
                raise SystemExit(f'{path}: {name}: unexpected {" ".join(words[2:])}')
            policy[name] = how
    return policy, checked


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--xml', required=True)
    ap.add_argument('--venus', required=True)
    ap.add_argument('--policy')
    ap.add_argument('--out-dir', required=True)
    ap.add_argument('--report', action='store_true', help='print undecodable commands and structs')
    args = ap.parse_args()
    reg = Registry()
    reg.load(ET.parse(args.xml).getroot())
    venus_root = ET.parse(args.venus).getroot()
    reg.load(venus_root, venus=True)
    policy, checked = load_policy(args.policy)
    gen = Gen(reg, venus_root, policy, checked)
    gen.run()
    gen.write(args.out_dir)
    if args.report:
        for name, why in sorted(gen.cmd_undecodable.items()):
            print(f'undecodable command {name}: {why}')
        for ext, why in sorted(gen.extension_report.items()):
            print(f'extension {ext}: {why or "served"}')


if __name__ == '__main__':
    main()
