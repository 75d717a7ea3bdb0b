//! Debug masks: numbers or names.
//!
//! The bits are the kernel's `L2TP_MSG_*` values (`include/uapi/linux/l2tp.h`), so a mask
//! means the same thing here as with `ip l2tp` / the PPPoL2TP `DEBUG` socket option.

use thiserror::Error;

/// Names of the debug mask bits, in bit order, with their values.
pub const DEBUG_MASK_NAMES: [(&str, u32); 4] = [
    ("debug", 0x1),
    ("control", 0x2),
    ("seq", 0x4),
    ("data", 0x8),
];

/// A debug mask that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid debug mask {input:?}: expected a number (12, 0xc) or names from debug,control,seq,data,all,none separated by commas")]
pub struct DebugMaskError {
    /// What was given.
    pub input: String,
}

/// Parses a debug mask: a decimal or `0x` hexadecimal number, or a comma-separated list of
/// names (`data,seq`), `all` or `none`.
pub fn parse_debug_mask(s: &str) -> Result<u32, DebugMaskError> {
    let err = || DebugMaskError {
        input: s.to_string(),
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(err());
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16).map_err(|_| err());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().map_err(|_| err());
    }
    let mut mask = 0;
    for name in t.split(',') {
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "all" => mask |= 0xf,
            "none" => {}
            _ => {
                let (_, bit) = DEBUG_MASK_NAMES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or_else(err)?;
                mask |= bit;
            }
        }
    }
    Ok(mask)
}

/// Formats a mask as names (`control,seq`), `none` for 0; unknown bits are appended in hex.
pub fn format_debug_mask(mask: u32) -> String {
    if mask == 0 {
        return "none".into();
    }
    let mut parts: Vec<String> = DEBUG_MASK_NAMES
        .iter()
        .filter(|(_, bit)| mask & bit != 0)
        .map(|(n, _)| (*n).to_string())
        .collect();
    let known: u32 = DEBUG_MASK_NAMES.iter().map(|(_, b)| b).sum();
    if mask & !known != 0 {
        parts.push(format!("{:#x}", mask & !known));
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_parse_to_kernel_bits() {
        assert_eq!(parse_debug_mask("12").unwrap(), 12);
        assert_eq!(parse_debug_mask("0xc").unwrap(), 12);
        assert_eq!(parse_debug_mask("data,seq").unwrap(), 0x8 | 0x4);
        assert_eq!(parse_debug_mask("CONTROL").unwrap(), 0x2);
        assert_eq!(parse_debug_mask("all").unwrap(), 0xf);
        assert_eq!(parse_debug_mask("none").unwrap(), 0);
        assert!(parse_debug_mask("datas").is_err());
        assert!(parse_debug_mask("").is_err());
        assert!(parse_debug_mask("0xzz").is_err());
        assert!(parse_debug_mask("99999999999").is_err());
    }

    #[test]
    fn format_is_the_inverse_of_parse() {
        for m in 0..=0xf {
            assert_eq!(parse_debug_mask(&format_debug_mask(m)).unwrap(), m);
        }
        assert_eq!(format_debug_mask(0x1c), "seq,data,0x10");
    }
}
