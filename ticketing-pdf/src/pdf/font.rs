//! Fonts embedded as subsets, prepared once per renderer.
//!
//! A face's *base* subset holds the printable ASCII characters and every glyph of the template's
//! fixed text. It is subset, compressed and written once, when the renderer is made; a ticket
//! whose text needs nothing more copies its bytes. A ticket that needs more (an accented name, a
//! ligature) gets the base plus those glyphs, subset once per set of extra glyphs and kept in a
//! bounded cache, so a batch pays for each distinct set once. The subset depends only on the
//! glyphs, never on which tickets came before: a ticket rendered alone and the same ticket in a
//! batch are the same bytes.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Chunk, Filter, Finish, Name, Rect, Ref, Str};
use rustybuzz::ttf_parser;

use super::deflate;
use crate::font::{Face, Shaped};

/// The objects a face takes: the Type 0 font, its CID font, descriptor, ToUnicode map and file.
pub(super) const REFS_PER_FONT: i32 = 5;

/// How many subsets beyond the base one a face keeps.
const CACHED_SUBSETS: usize = 256;

/// Font programs are compressed once per subset, so at the level that makes them smallest.
const FONT_LEVEL: u32 = 9;

/// The glyph units a PDF font's widths are given in.
const PDF_UNITS: f32 = 1000.0;

/// A glyph in an embedded subset.
#[derive(Clone, Debug)]
pub(super) struct SubsetGlyph {
    /// Its CID (its number in the subset), written as two bytes in the content stream.
    pub(super) cid: u16,
    /// Its advance width in ems, as the PDF reader applies it.
    pub(super) width: f32,
    /// The text its ToUnicode entry gives.
    pub(super) text: Box<str>,
}

/// A subset written into a chunk at the face's fixed object numbers.
pub(super) struct Subset {
    pub(super) chunk: Chunk,
    /// By glyph id in the original font, in order.
    glyphs: Vec<(u16, SubsetGlyph)>,
}

impl Subset {
    /// The glyph `id` of the original font: every glyph the document draws is in its subset (an
    /// id past the font's glyphs, from a broken font, is not, and is not drawn).
    pub(super) fn glyph(&self, id: u32) -> Option<&SubsetGlyph> {
        let id = u16::try_from(id).ok()?;
        self.glyphs.binary_search_by_key(&id, |(g, _)| *g).ok().map(|i| &self.glyphs[i].1)
    }
}

/// The glyphs beyond the base that a document needs, each with the text it first drew there:
/// what a cached subset is looked up by.
type Extras = Vec<(u16, Box<str>)>;

/// A face ready to embed: its base subset and the cache of larger ones.
pub(super) struct EmbeddableFace {
    data: Arc<Vec<u8>>,
    at: Ref,
    info: FaceInfo,
    /// The base subset's glyphs, each with its text: the ASCII character looked up, or the text
    /// of its first cluster in the fixed lines.
    base_glyphs: BTreeMap<u16, Box<str>>,
    /// Whether each glyph id is in the base subset.
    in_base: Vec<bool>,
    base: Arc<Subset>,
    cache: Mutex<HashMap<Extras, Arc<Subset>>>,
}

impl EmbeddableFace {
    /// `face`, whose objects start at `at`, with a base subset for ASCII and `fixed` lines.
    pub(super) fn new<'a>(face: &Face, at: Ref, fixed: impl Iterator<Item = &'a Shaped>) -> Result<Self, String> {
        let data = Arc::clone(face.data());
        let parsed = ttf_parser::Face::parse(&data, 0).map_err(|e| format!("the font cannot be read: {e}"))?;
        let info = FaceInfo::new(&parsed)?;
        // Glyph 0 (.notdef, what a missing character is drawn with) is always in a subset, first.
        // An id past the font's glyphs (a broken character map or substitution) is never drawn.
        let mut in_base = vec![false; usize::from(parsed.number_of_glyphs()).max(1)];
        in_base[0] = true;
        let mut base_glyphs = BTreeMap::new();
        let mut add = |id: u16, text: &str| {
            if let Some(known @ false) = in_base.get_mut(usize::from(id)) {
                *known = true;
                base_glyphs.insert(id, text.into());
            }
        };
        for c in ' '..='~' {
            if let Some(id) = parsed.glyph_index(c) {
                add(id.0, c.encode_utf8(&mut [0; 4]));
            }
        }
        for line in fixed {
            for (id, text) in glyph_texts(line) {
                add(id, text);
            }
        }
        let base = Arc::new(write_subset(&data, &info, &base_glyphs, at)?);
        Ok(Self { data, at, info, base_glyphs, in_base, base, cache: Mutex::new(HashMap::new()) })
    }

    /// The subset for a document that draws `lines` in this face.
    pub(super) fn subset<'a>(&self, lines: impl Iterator<Item = &'a Shaped>) -> Result<Arc<Subset>, String> {
        let mut extras: BTreeMap<u16, Box<str>> = BTreeMap::new();
        for line in lines {
            for (id, text) in glyph_texts(line) {
                // An id past the font's glyphs counts as in the base: it is never drawn.
                if !self.in_base.get(usize::from(id)).copied().unwrap_or(true) {
                    extras.entry(id).or_insert_with(|| text.into());
                }
            }
        }
        if extras.is_empty() {
            return Ok(Arc::clone(&self.base));
        }
        let key: Extras = extras.into_iter().collect();
        // A poisoned cache only holds finished subsets: use it as it is.
        if let Some(found) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(Arc::clone(found));
        }
        let mut glyphs = self.base_glyphs.clone();
        glyphs.extend(key.iter().cloned());
        let subset = Arc::new(write_subset(&self.data, &self.info, &glyphs, self.at)?);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() < CACHED_SUBSETS {
            cache.insert(key, Arc::clone(&subset));
        }
        Ok(subset)
    }
}

/// Each glyph of `line` with the text it draws: its cluster's text for the cluster's first glyph,
/// nothing for the others.
fn glyph_texts(line: &Shaped) -> impl Iterator<Item = (u16, &str)> + '_ {
    let mut previous = None;
    line.glyphs.iter().filter_map(move |g| {
        let id = u16::try_from(g.id).ok()?;
        let first = previous != Some(g.range.start);
        previous = Some(g.range.start);
        let text = if first { line.text.get(g.range.clone()).unwrap_or_default() } else { "" };
        Some((id, text))
    })
}

/// What the font's descriptor says, read once.
struct FaceInfo {
    postscript_name: String,
    cff: bool,
    units_per_em: f32,
    flags: FontFlags,
    bbox: Rect,
    italic_angle: f32,
    ascent: f32,
    descent: f32,
    cap_height: f32,
    stem_v: f32,
    /// Advance widths in font units, by glyph.
    advances: Vec<u16>,
}

impl FaceInfo {
    fn new(face: &ttf_parser::Face<'_>) -> Result<Self, String> {
        // As the subsetter decides: TrueType outlines whenever there is a `glyf` table.
        let raw = face.raw_face();
        let cff = raw.table(ttf_parser::Tag::from_bytes(b"glyf")).is_none();
        if cff && raw.table(ttf_parser::Tag::from_bytes(b"CFF ")).is_none() {
            return Err("the font has neither TrueType nor CFF outlines".to_owned());
        }
        let postscript_name = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .map(|n| n.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "Font".to_owned());
        let units_per_em = f32::from(face.units_per_em()).max(1.0);
        let scale = |v: i16| f32::from(v) / units_per_em * PDF_UNITS;
        let b = face.global_bounding_box();
        let italic_angle = face.italic_angle();
        let mut flags = FontFlags::SYMBOLIC;
        flags.set(FontFlags::SERIF, postscript_name.contains("Serif"));
        flags.set(FontFlags::FIXED_PITCH, face.is_monospaced());
        flags.set(FontFlags::ITALIC, italic_angle != 0.0);
        let ascent = scale(face.ascender());
        let advances = (0..face.number_of_glyphs())
            .map(|id| face.glyph_hor_advance(ttf_parser::GlyphId(id)).unwrap_or(0))
            .collect();
        Ok(Self {
            postscript_name,
            cff,
            units_per_em,
            flags,
            bbox: Rect::new(scale(b.x_min), scale(b.y_min), scale(b.x_max), scale(b.y_max)),
            italic_angle,
            ascent,
            descent: scale(face.descender()),
            cap_height: face.capital_height().map_or(ascent, scale),
            stem_v: 10.0 + 0.244 * (f32::from(face.weight().to_number()) - 50.0),
            advances,
        })
    }
}

const SYSTEM_INFO: SystemInfo = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

/// Subsets the font to `glyphs` (in their order, after `.notdef`), each with its ToUnicode text,
/// and writes its five objects from `at`.
fn write_subset(data: &[u8], info: &FaceInfo, glyphs: &BTreeMap<u16, Box<str>>, at: Ref) -> Result<Subset, String> {
    let mut remapper = subsetter::GlyphRemapper::new();
    for &id in glyphs.keys() {
        remapper.remap(id);
    }
    let program = subsetter::subset(data, 0, &remapper).map_err(|e| format!("the font cannot be subset: {e}"))?;
    let program = if info.cff {
        let face = ttf_parser::RawFace::parse(&program, 0).map_err(|e| format!("the subset cannot be read: {e}"))?;
        face.table(ttf_parser::Tag::from_bytes(b"CFF ")).ok_or("the subset lost its CFF table")?.to_vec()
    } else {
        program
    };
    let em = |id: u16| f32::from(info.advances.get(usize::from(id)).copied().unwrap_or(0)) / info.units_per_em;
    let mut table = Vec::with_capacity(glyphs.len() + 1);
    table.push((0, SubsetGlyph { cid: 0, width: em(0), text: "".into() }));
    let mut cmap = UnicodeCmap::new(Name(b"Custom"), SYSTEM_INFO);
    let mut widths = vec![em(0) * PDF_UNITS];
    for (&id, text) in glyphs {
        let cid = remapper.get(id).ok_or("the subsetter dropped a glyph")?;
        if !text.is_empty() {
            cmap.pair_with_multiple(cid, text.chars());
        }
        widths.push(em(id) * PDF_UNITS);
        table.push((id, SubsetGlyph { cid, width: em(id), text: text.clone() }));
    }

    let [type0, cid_font, descriptor, to_unicode, file] = [0, 1, 2, 3, 4].map(|i| Ref::new(at.get() + i));
    let name = format!("{}+{}", subset_tag(glyphs), info.postscript_name);
    let mut chunk = Chunk::new();
    chunk
        .type0_font(type0)
        .base_font(Name(if info.cff { format!("{name}-Identity-H") } else { name.clone() }.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_font)
        .to_unicode(to_unicode);
    let mut cid = chunk.cid_font(cid_font);
    cid.subtype(if info.cff { CidFontType::Type0 } else { CidFontType::Type2 })
        .base_font(Name(name.as_bytes()))
        .system_info(SYSTEM_INFO)
        .font_descriptor(descriptor)
        .default_width(0.0);
    if !info.cff {
        cid.cid_to_gid_map_predefined(Name(b"Identity"));
    }
    cid.widths().consecutive(0, widths);
    cid.finish();
    let mut descriptor_writer = chunk.font_descriptor(descriptor);
    descriptor_writer
        .name(Name(name.as_bytes()))
        .flags(FontFlags::from_bits_truncate(info.flags.bits()))
        .bbox(info.bbox)
        .italic_angle(info.italic_angle)
        .ascent(info.ascent)
        .descent(info.descent)
        .cap_height(info.cap_height)
        .stem_v(info.stem_v);
    if info.cff {
        descriptor_writer.font_file3(file);
    } else {
        descriptor_writer.font_file2(file);
    }
    descriptor_writer.finish();
    let cmap = deflate(&cmap.finish(), FONT_LEVEL);
    chunk.cmap(to_unicode, &cmap).filter(Filter::FlateDecode);
    let compressed = deflate(&program, FONT_LEVEL);
    let mut stream = chunk.stream(file, &compressed);
    stream.filter(Filter::FlateDecode);
    if info.cff {
        stream.pair(Name(b"Subtype"), Name(b"CIDFontType0C"));
    } else {
        stream.pair(Name(b"Length1"), i32::try_from(program.len()).unwrap_or(i32::MAX));
    }
    stream.finish();
    Ok(Subset { chunk, glyphs: table })
}

/// Six capital letters naming a subset, the same for the same glyphs.
fn subset_tag(glyphs: &BTreeMap<u16, Box<str>>) -> String {
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    glyphs.hash(&mut hasher);
    let mut hash = Hasher::finish(&hasher);
    (0..6)
        .map(|_| {
            let letter = char::from(b'A' + (hash % 26) as u8);
            hash /= 26;
            letter
        })
        .collect()
}

/// FNV-1a: a hash that is the same in every process (the standard one is seeded).
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
