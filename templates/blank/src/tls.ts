// TLS for clients and peers from --tls-cert, --tls-key and --tls-ca: the
// files are read and checked at start (each problem one line naming its file),
// and the reasons OpenSSL gives for a refused connection are put in words.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import type { TlsFiles } from "./config.js";

export type { TlsFiles };

/** A TLS file that cannot be used: unreadable, not PEM, a key of another certificate, out of its validity. */
export class TlsError extends Error {
  override readonly name = "TlsError";
}

export interface Tls {
  readonly files: TlsFiles;
  /** What the server presents; with a CA it asks clients and peers for a certificate signed by it. */
  readonly server: grpc.ServerCredentials;
  /** What this replica dials with (peers, the probe): its own certificate, and the CA it checks the server's against. */
  readonly client: grpc.ChannelCredentials;
}

/** The credentials of `files`, after checking them at `now`. */
export function loadTls(files: TlsFiles, now = new Date()): Tls {
  const cert = read("--tls-cert", files.cert);
  const key = read("--tls-key", files.key);
  const ca = files.ca === undefined ? undefined : read("--tls-ca", files.ca);
  const own = certificate("--tls-cert", files.cert, cert);
  if (ca !== undefined) certificate("--tls-ca", files.ca!, ca);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new TlsError(`--tls-key ${files.key} is not a PEM private key (${(error as Error).message})`);
  }
  if (!own.checkPrivateKey(privateKey)) {
    throw new TlsError(`--tls-key ${files.key} is not the key of the certificate in --tls-cert ${files.cert}`);
  }
  if (now < new Date(own.validFrom)) {
    throw new TlsError(`--tls-cert ${files.cert} is not valid before ${iso(own.validFrom)}`);
  }
  if (now > new Date(own.validTo)) throw new TlsError(`--tls-cert ${files.cert} expired on ${iso(own.validTo)}`);
  return {
    files,
    server: grpc.ServerCredentials.createSsl(ca ?? null, [{ cert_chain: cert, private_key: key }], ca !== undefined),
    client: grpc.credentials.createSsl(ca ?? null, key, cert),
  };
}

/**
 * Why a connection to a peer (or the probe's) failed, in words, from
 * grpc-js's details (which carry OpenSSL's reason for TLS), on one line: the
 * raw detail follows in parentheses. `tls`: this replica's files, if any.
 */
export function explainFailure(details: string, tls: TlsFiles | undefined): string {
  const cause = (/Last error: (.*?)(?:\. Resolution note:.*)?$/s.exec(details)?.[1] ?? details)
    .replace(/^Error: /, "")
    .replace(/ \(\d{4}-\d\d-\d\dT[\d:.]+Z\)$/, "") // grpc-js stamps its connection errors
    .replace(/[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):\S*/g, "$1") // OpenSSL's reason, not its source file
    .replace(/ alert number \d+/, "")
    .replace(/\s+/g, " ")
    .trim();
  const reason = ((): string | undefined => {
    if (/ECONNREFUSED/.test(cause)) return "connection refused";
    if (/ENOTFOUND|EAI_AGAIN|Name resolution failed/i.test(cause)) return "its host name does not resolve";
    if (/ETIMEDOUT|EHOSTUNREACH|ENETUNREACH/.test(cause)) return "its host cannot be reached";
    if (cause === "Connection dropped") {
      return "the connection dropped (the peer closed it, or stopped answering keepalive pings)";
    }
    // What a peer killed with data still unread on its socket leaves (its kernel answers with a reset).
    if (/ECONNRESET/.test(cause)) return "the connection dropped (the peer reset it: its process ended abruptly)";
    if (/self[- ]signed|unable to (get local issuer|verify the first)|certificate signature failure/i.test(cause)) {
      return tls?.ca === undefined
        ? "its certificate is not signed by a CA this replica trusts (give --tls-ca)"
        : `its certificate is not signed by --tls-ca ${tls.ca}`;
    }
    if (/certificate has expired/i.test(cause)) return "its certificate has expired";
    if (/certificate is not yet valid/i.test(cause)) return "its certificate is not valid yet";
    if (/does not match certificate's altnames|ERR_TLS_CERT_ALTNAME_INVALID/i.test(cause)) {
      return "its certificate does not name the host it is dialled by (subjectAltName)";
    }
    if (
      /alert (bad certificate|unknown ca|certificate required|certificate expired|certificate unknown)/i.test(cause)
    ) {
      return "it refused this replica's certificate";
    }
    if (/wrong version number|packet length too long|unexpected eof/i.test(cause)) return "it does not speak TLS";
    // The peer closed the connection before HTTP/2 began, without a word.
    if (/^Failed to connect$/.test(cause)) {
      return tls === undefined
        ? "it closed the connection at once: it may speak TLS, and this replica does not"
        : "it closed the connection during the TLS handshake: it may have refused this replica's certificate";
    }
    return undefined;
  })();
  return reason === undefined ? cause : `${reason} (${cause})`;
}

/**
 * Whether a reason from explainFailure says only that the peer is not up yet (nothing listens at
 * its address, or its host name does not resolve yet), as at a cluster's start: no more to tell.
 */
export function notUpYet(reason: string): boolean {
  return /^(connection refused|its host name does not resolve) \(/.test(reason);
}

function read(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new TlsError(`${flag} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`);
  }
}

function certificate(flag: string, file: string, pem: Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new TlsError(`${flag} ${file} is not a PEM certificate (${(error as Error).message})`);
  }
}

function iso(date: string): string {
  return new Date(date).toISOString();
}
