//! A backend's response head: parsed, held to the same framing rules as a
//! request's, and written again for the client.

use super::*;

/// Parses a response head from `buf`; `Ok(None)` when more bytes are
/// needed. A refusal means the backend cannot be trusted with this
/// connection: the client gets 502 and the connection is not reused.
pub(in crate::http) fn parse_response(
    buf: &[u8],
    request: &RequestHead,
) -> Result<Option<(usize, ResponseHead)>, Refusal> {
    let bad = |message| Refusal {
        status: 502,
        message,
    };
    let mut storage = [MaybeUninit::<httparse::Header<'_>>::uninit(); MAX_HEADERS_LIMIT];
    let mut res = httparse::Response::new(&mut []);
    let used = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, buf, &mut storage)
        .map_err(|_| bad("malformed response head from the backend"))?
    {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let status = res.code.unwrap_or(502);
    // httparse takes any three digits; below 100 is no status (RFC 9110
    // §15) and would be written back as fewer than three.
    if status < 100 {
        return Err(bad("response status below 100 from the backend"));
    }
    let http10 = res.version.unwrap_or(1) == 0;
    let headers: &[httparse::Header<'_>] = res.headers;
    let Survey {
        framing: declared,
        connection,
        websocket,
        ..
    } = survey(headers, http10).map_err(bad)?;
    let switching = status == 101;
    if switching {
        crate::http::upgrade::check_switch(request.upgrade, websocket).map_err(bad)?;
    }
    let mut reusable = !connection.close && (!http10 || connection.keep_alive);
    let mut out = Vec::with_capacity(used + 64);
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(&mut out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(res.reason.unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in headers {
        match classify(h.name) {
            Field::Connection
            | Field::HopByHop
            | Field::ContentLength
            | Field::TransferEncoding
            | Field::Upgrade
            | Field::RequestId => continue,
            _ if connection.names_fields && named_by_connection(headers, h.name) => continue,
            _ => push_header(&mut out, h.name, h.value),
        }
    }
    push_header(&mut out, "X-Request-Id", request.request_id.as_bytes());
    if switching {
        out.extend_from_slice(crate::http::upgrade::RESPONSE_FIELDS);
    }
    let informational = (100..200).contains(&status);
    let no_body = request.is_head || informational || status == 204 || status == 304;
    // The declared framing still describes a HEAD or 304 answer's
    // representation; 1xx and 204 have none.
    let framing = match declared {
        _ if informational || status == 204 => Framing::None,
        Framing::Chunked if request.http10 => Framing::Close,
        other => other,
    };
    push_framing(&mut out, framing);
    let framing = match declared {
        _ if no_body => Framing::None,
        Framing::None => Framing::Close,
        other => other,
    };
    if framing == Framing::Close {
        reusable = false;
    }
    Ok(Some((
        used,
        ResponseHead {
            status,
            framing,
            dechunk: framing == Framing::Chunked && request.http10,
            reusable: reusable && !switching,
            bytes: out,
            switching,
        },
    )))
}
