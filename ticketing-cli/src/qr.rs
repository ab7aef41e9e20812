//! `ticketing qr`.

use std::fs;
use std::path::PathBuf;

use ticketing_pdf::Color;
use ticketing_pdf::qr::{EcLevel, QrLogo, QrStyle, qr_png, qr_svg};

/// Draw one QR code of TEXT as PNG or SVG (chosen by the output's extension).
#[derive(clap::Args)]
pub struct Args {
    /// The text to encode, typically a ticket's signed QR text.
    text: String,
    /// The output file, ending in `.png` or `.svg`.
    #[arg(long, short, default_value = "qr.png")]
    out: PathBuf,
    /// Width and height in pixels, quiet zone included.
    #[arg(long, default_value_t = 300)]
    size: u32,
    /// Error-correction level: L, M, Q or H (H for a logo).
    #[arg(long, default_value = "M", value_parser = parse_level)]
    level: EcLevel,
    /// Light modules round the symbol.
    #[arg(long, default_value_t = 4)]
    quiet_zone: u32,
    /// Colour of dark modules.
    #[arg(long, default_value = "#000000", value_parser = Color::parse)]
    dark: Color,
    /// Colour of light modules.
    #[arg(long, default_value = "#ffffff", value_parser = Color::parse)]
    light: Color,
    /// A PNG drawn in the centre (needs --level H).
    #[arg(long)]
    logo: Option<PathBuf>,
    /// The logo pad's share of the code's width (up to 0.25).
    #[arg(long, default_value_t = 0.2)]
    logo_scale: f32,
}

fn parse_level(text: &str) -> Result<EcLevel, String> {
    match text.to_ascii_uppercase().as_str() {
        "L" => Ok(EcLevel::L),
        "M" => Ok(EcLevel::M),
        "Q" => Ok(EcLevel::Q),
        "H" => Ok(EcLevel::H),
        _ => Err("one of L, M, Q, H".into()),
    }
}

pub fn run(args: Args) -> Result<(), String> {
    let logo = match &args.logo {
        Some(path) => {
            let png = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(QrLogo::new(png, args.logo_scale).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let style = QrStyle {
        pixels: args.size,
        quiet_zone: args.quiet_zone,
        level: args.level,
        dark: args.dark,
        light: args.light,
        logo,
    };
    let svg = args.out.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    let bytes = if svg { qr_svg(&args.text, &style).map(String::into_bytes) } else { qr_png(&args.text, &style) }
        .map_err(|e| e.to_string())?;
    fs::write(&args.out, bytes).map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!("{}", args.out.display());
    Ok(())
}
