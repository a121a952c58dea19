/**
 * The HTTP side: uploads (XMLHttpRequest, for upload progress) and rendered downloads.
 */
import type { RenderSpec, SoundInfo } from "@shared/protocol";
import { authHeaders } from "./auth";

/** An HTTP request failed; `message` is for people. */
export class UploadError extends Error {
  override readonly name = "UploadError";
  readonly code: string;
  readonly errorId: string | null;
  readonly status: number;

  constructor(status: number, code: string, message: string, errorId: string | null) {
    super(message);
    this.status = status;
    this.code = code;
    this.errorId = errorId;
  }
}

/** Read the server's `{code, message, error_id}` body, or describe the status. */
export function parseErrorBody(status: number, text: string): UploadError {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === "object" && body !== null && "message" in body) {
      const b = body as { code?: unknown; message?: unknown; error_id?: unknown };
      return new UploadError(
        status,
        typeof b.code === "string" ? b.code : "http",
        typeof b.message === "string" ? b.message : `the server answered ${status}`,
        typeof b.error_id === "string" ? b.error_id : null,
      );
    }
  } catch {
    // not JSON: fall through
  }
  return new UploadError(status, "http", status === 0 ? "the server could not be reached" : `the server answered ${status}`, null);
}

/**
 * Upload an audio file: `POST /api/sounds?name=<filename>` with the raw file as the body.
 *
 * @param onProgress fraction 0..1 of the bytes sent.
 * @returns the new sound.
 * @throws UploadError with the server's message for a bad file.
 */
export function uploadSound(file: File, onProgress: (fraction: number) => void): Promise<SoundInfo> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/sounds?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status === 201 || xhr.status === 200) {
        try {
          resolve(JSON.parse(xhr.responseText) as SoundInfo);
        } catch {
          reject(new UploadError(xhr.status, "http", "the server's answer was not readable", null));
        }
      } else {
        reject(parseErrorBody(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () => reject(new UploadError(0, "network", "the server could not be reached", null));
    xhr.send(file);
  });
}

/** Render a RenderSpec to WAV on the server (`POST /api/render.wav`). */
export async function renderWav(spec: RenderSpec): Promise<{ blob: Blob; filename: string | null }> {
  const res = await fetch("/api/render.wav", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify(spec),
  });
  if (!res.ok) throw parseErrorBody(res.status, await res.text());
  return { blob: await res.blob(), filename: filenameOf(res.headers.get("Content-Disposition")) };
}

/** GET a file of this session (with its token) for a download. */
export async function fetchFile(url: string): Promise<{ blob: Blob; filename: string | null }> {
  const res = await fetch(url, { headers: authHeaders() });
  if (!res.ok) throw parseErrorBody(res.status, await res.text());
  return { blob: await res.blob(), filename: filenameOf(res.headers.get("Content-Disposition")) };
}

/** The filename of a Content-Disposition header (RFC 5987 `filename*` first). */
export function filenameOf(header: string | null): string | null {
  if (!header) return null;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      return star[1];
    }
  }
  const plain = /filename="?([^";]+)"?/i.exec(header);
  return plain?.[1] ?? null;
}
