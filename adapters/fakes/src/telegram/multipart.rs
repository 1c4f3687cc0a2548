//! A small `multipart/form-data` reader, enough for the fields teloxide uploads.

use serde_json::{json, Map, Value};

/// Reads the parts of `body`: text fields as strings (or JSON when they hold an object or
/// array), files as `{"file_name": …, "len": …, "content_type": …, "bytes": [u8, …]}`.
pub fn fields(content_type: &str, body: &[u8]) -> Map<String, Value> {
    let mut fields = Map::new();
    let Some(boundary) = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"'))
    else {
        return fields;
    };
    let delimiter = format!("--{boundary}");
    for part in split(body, delimiter.as_bytes()).into_iter().skip(1) {
        if part.starts_with(b"--") {
            break;
        }
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some(split_at) = find(part, b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..split_at]);
        let content = &part[split_at + 4..];
        let content = content.strip_suffix(b"\r\n").unwrap_or(content);
        let mut name = None;
        let mut file_name = None;
        let mut part_type = None;
        for line in head.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                name = attribute(line, "name");
                file_name = attribute(line, "filename");
            } else if lower.starts_with("content-type:") {
                part_type = line.split_once(':').map(|(_, v)| v.trim().to_owned());
            }
        }
        let Some(name) = name else { continue };
        let value = match file_name {
            Some(file_name) => json!({
                "file_name": file_name,
                "len": content.len(),
                "content_type": part_type,
                "bytes": content,
            }),
            None => super::field_value(String::from_utf8_lossy(content).into_owned()),
        };
        fields.insert(name, value);
    }
    resolve_attachments(&mut fields);
    fields
}

/// Replaces each `"attach://{name}"` value with the file part `name` (how teloxide and the
/// Bot API refer to uploads), dropping that part.
fn resolve_attachments(fields: &mut Map<String, Value>) {
    let references: Vec<(String, String)> = fields
        .iter()
        .filter_map(|(key, value)| {
            let part = value.as_str()?.strip_prefix("attach://")?;
            Some((key.clone(), part.to_owned()))
        })
        .collect();
    for (key, part) in references {
        if let Some(file) = fields.remove(&part) {
            fields.insert(key, file);
        }
    }
}

/// `key="value"` from a header line.
fn attribute(line: &str, key: &str) -> Option<String> {
    line.split(';').find_map(|piece| {
        let (k, v) = piece.trim().split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(mut body: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    while let Some(at) = find(body, delimiter) {
        parts.push(&body[..at]);
        body = &body[at + delimiter.len()..];
    }
    parts.push(body);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\n\
Content-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ\r\nContent-Disposition: form-data; \
name=\"reply_parameters\"\r\n\r\n{\"message_id\":7}\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"document\"\r\n\r\nattach://f1\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"f1\"; filename=\"b.pdf\"\r\n\r\n%PDF\r\n--XyZ--\r\n";
        let fields = fields("multipart/form-data; boundary=XyZ", body);
        assert_eq!(fields["chat_id"], json!("42"));
        assert_eq!(fields["photo"]["file_name"], json!("a.png"));
        assert_eq!(fields["photo"]["len"], json!(4));
        assert_eq!(fields["reply_parameters"]["message_id"], json!(7));
        assert_eq!(fields["document"]["file_name"], json!("b.pdf"));
        assert!(!fields.contains_key("f1"));
    }
}
