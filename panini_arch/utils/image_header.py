"""What an image file's header says, read from its metadata without decoding a pixel: size and orientation.

:func:`read_header` walks the structure of PNG (IHDR, eXIf and text chunks), JPEG (SOFn, APP1 Exif and
XMP segments up to the first scan), WebP (VP8/VP8L/VP8X, EXIF and XMP chunks) and TIFF (IFD0) files.
The EXIF orientation is read as PIL's ``getexif()`` reads it: the first Exif block (a PNG ``eXIf``
chunk, or else an ImageMagick ``Raw profile type exif`` text chunk), IFD0 tag 0x0112; when it has no
orientation, ``tiff:Orientation`` in the file's XMP. The cost is a few small reads, whatever the image
size (PIL's ``getexif()`` decodes a whole PNG to look for chunks after the pixel data).
"""
import re
import struct
import zlib
from collections import namedtuple

Header = namedtuple('Header', 'format width height orientation length')
ORIENTATION_TAG = 0x0112
_WIDTH_TAG, _HEIGHT_TAG, _XMP_TAG = 256, 257, 700
_DATA_TAGS = ((273, 279), (324, 325))  # (offsets, byte counts) of the strips, of the tiles
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_EXIF_PREFIX = b'Exif\x00\x00'
_JPEG_XMP_PREFIX = b'http://ns.adobe.com/xap/1.0/\x00'
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')
_JPEG_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_TIFF_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 7: 1}  # BYTE, ASCII, SHORT, LONG, UNDEFINED


def read_header(data):
    """The size and EXIF orientation of PNG, JPEG, WebP or TIFF ``data``, from its metadata only.

    Args:
        data (bytes): the whole file.

    Returns:
        Header | None: ``format`` ('PNG', 'JPEG', 'WEBP' or 'TIFF'), ``width``, ``height`` (None when the
        header does not say), ``orientation`` (1 to 8 as stored; 1 when there is none) and ``length``, the
        bytes the file must hold for the header to be right (WebP: the RIFF size; TIFF: the end of the last
        strip or tile of the first image, None when IFD0 does not list them; None for PNG and JPEG, whose
        last bytes say it); None for other formats or a header too damaged to read.
    """
    readers = ((_PNG_SIGNATURE, _png), (b'\xff\xd8', _jpeg), (b'II*\x00', _tiff), (b'MM\x00*', _tiff))
    for magic, reader in readers:
        if data.startswith(magic):
            break
    else:
        if data[:4] != b'RIFF' or data[8:12] != b'WEBP':
            return None
        reader = _webp
    try:
        return reader(data)
    except (struct.error, IndexError, ValueError, zlib.error):
        return None


def _orientation(exif, xmp):
    """Orientation from an Exif block (TIFF structure, optionally after ``Exif\\0\\0``), else from XMP."""
    if exif is not None:
        if exif.startswith(_EXIF_PREFIX):
            exif = exif[len(_EXIF_PREFIX):]
        try:
            value = _tiff_ifd0(exif).get(ORIENTATION_TAG)
        except (struct.error, IndexError):
            value = None
        if isinstance(value, int):
            return value
    match = _XMP_ORIENTATION.search(xmp) if xmp else None
    return int(match[2]) if match else 1


def _tiff_ifd0(data):
    """``{tag: value}`` of the first IFD of TIFF-structured ``data``: a number for one SHORT or LONG, a
    tuple for several, the raw bytes for BYTE, ASCII and UNDEFINED entries; other entries are left out.
    struct.error when cut."""
    endian = {b'II*\x00': '<', b'MM\x00*': '>'}.get(data[:4])
    if endian is None:
        return {}
    (offset, ) = struct.unpack_from(endian + 'I', data, 4)
    (count, ) = struct.unpack_from(endian + 'H', data, offset)
    entries = {}
    for start in range(offset + 2, offset + 2 + 12 * count, 12):
        tag, kind, n = struct.unpack_from(endian + 'HHI', data, start)
        if tag in entries or kind not in _TIFF_TYPE_SIZE:
            continue
        size = _TIFF_TYPE_SIZE[kind] * n
        where = start + 8 if size <= 4 else struct.unpack_from(endian + 'I', data, start + 8)[0]
        if kind in (3, 4):
            values = struct.unpack_from(f'{endian}{n}{"H" if kind == 3 else "I"}', data, where)
            entries[tag] = values[0] if n == 1 else values
        elif kind in (1, 2, 7):
            entries[tag] = data[where:where + size]
    return entries


def _png(data):
    if data[12:16] != b'IHDR':
        raise ValueError('PNG without IHDR first')
    width, height = struct.unpack_from('>II', data, 16)
    exif = raw_profile = xmp = None
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from('>I4s', data, pos)
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b'IEND':
            break
        if kind == b'eXIf' and exif is None:
            exif = body
        elif kind in (b'tEXt', b'zTXt', b'iTXt'):
            keyword, text = _png_text(kind, body)
            if keyword == b'Raw profile type exif' and raw_profile is None:
                raw_profile = bytes.fromhex(''.join(text.decode('latin-1').split('\n')[3:]))
            elif keyword == b'XML:com.adobe.xmp' and xmp is None:
                xmp = text
    return Header('PNG', width, height, _orientation(exif if exif is not None else raw_profile, xmp), None)


def _png_text(kind, body):
    """(keyword, text bytes) of a tEXt, zTXt or iTXt chunk."""
    keyword, _, rest = body.partition(b'\x00')
    if kind == b'tEXt':
        return keyword, rest
    if kind == b'zTXt':
        return keyword, zlib.decompress(rest[1:])
    compressed = rest[:1] == b'\x01'
    text = rest[2:].split(b'\x00', 2)[2]  # after the language tag and the translated keyword
    return keyword, zlib.decompress(text) if compressed else text


def _jpeg(data):
    width = height = exif = xmp = None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError('not a JPEG marker')
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: the metadata is behind
            break
        (length, ) = struct.unpack_from('>H', data, pos + 2)
        body = data[pos + 4:pos + 2 + length]
        pos += 2 + length
        if marker in _JPEG_SOF and width is None:
            height, width = struct.unpack_from('>HH', body, 1)
        elif marker == 0xE1 and body.startswith(_EXIF_PREFIX) and exif is None:
            exif = body
        elif marker == 0xE1 and body.startswith(_JPEG_XMP_PREFIX) and xmp is None:
            xmp = body[len(_JPEG_XMP_PREFIX):]
    return Header('JPEG', width, height, _orientation(exif, xmp), None)


def _webp(data):
    width = height = exif = xmp = None
    pos = 12
    while pos + 8 <= len(data):
        kind, length = struct.unpack_from('<4sI', data, pos)
        body = data[pos + 8:pos + 8 + length]
        pos += 8 + length + (length & 1)
        if kind == b'VP8X':
            width = 1 + int.from_bytes(body[4:7], 'little')
            height = 1 + int.from_bytes(body[7:10], 'little')
        elif kind == b'VP8L' and width is None:
            bits = int.from_bytes(body[1:5], 'little')
            width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        elif kind == b'VP8 ' and width is None:
            width, height = (v & 0x3FFF for v in struct.unpack_from('<HH', body, 6))
        elif kind == b'EXIF' and exif is None:
            exif = body
        elif kind == b'XMP ' and xmp is None:
            xmp = body
    return Header('WEBP', width, height, _orientation(exif, xmp), 8 + struct.unpack_from('<I', data, 4)[0])


def _tiff(data):
    tags = _tiff_ifd0(data)
    width, height = (tags.get(tag) for tag in (_WIDTH_TAG, _HEIGHT_TAG))
    if not (isinstance(width, int) and isinstance(height, int)):
        width = height = None
    length = None
    for offsets_tag, counts_tag in _DATA_TAGS:
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if isinstance(offsets, int) and isinstance(counts, int):
            offsets, counts = (offsets, ), (counts, )
        if isinstance(offsets, tuple) and isinstance(counts, tuple) and len(offsets) == len(counts):
            length = max([length or 0] + [a + b for a, b in zip(offsets, counts)])
    return Header('TIFF', width, height, _orientation(data, tags.get(_XMP_TAG)), length)
