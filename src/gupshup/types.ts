/**
 * What the service sends through Gupshup, whichever of its two APIs a connection uses: the
 * Enterprise gateway (src/gupshup/enterprise.ts) or the self-serve v2 API
 * (src/gupshup/self-serve.ts). src/gupshup/client.ts picks the adapter per connection, so the
 * rest of the pipeline (the `message.send` worker) never knows which one it talks to.
 *
 * Terminology:
 * - a *template* message is the approved FDR notice, the only kind allowed outside the
 *   customer's 24-hour window;
 * - a *session* message is a follow-up inside that window: text, or an interactive list, reply
 *   buttons or a call-to-action URL button.
 */

/** Which Gupshup API a connection uses. */
export type GupshupApi = 'enterprise' | 'self-serve';

export const GUPSHUP_APIS: readonly GupshupApi[] = ['enterprise', 'self-serve'];

/** One Enterprise gateway account (userid and password). */
export interface EnterpriseCredentials {
  userid: string;
  password: string;
}

/** How to reach Gupshup for one connection. Never logged, never put in job data. */
export type GupshupAccount =
  | {
      api: 'enterprise';
      /** The HSM (notification) account: templates. */
      hsm: EnterpriseCredentials;
      /** The two-way account: session messages; the HSM account when there is none. */
      twoWay: EnterpriseCredentials;
    }
  | {
      api: 'self-serve';
      apiKey: string;
      /** The Gupshup app name (`src.name`). */
      appName: string;
      /** The app's WhatsApp number (`source`), digits only. */
      waNumber: string;
    };

/** One row of a list message. `id` is a signed postback (src/replies/postback.ts). */
export interface ListRow {
  id: string;
  /** At most 24 characters. */
  title: string;
  /** At most 72 characters. */
  description?: string;
}

/** One reply button. `id` is a signed postback. */
export interface ReplyButton {
  id: string;
  /** At most 20 characters. */
  title: string;
}

/** The content of one session message. */
export type SessionContent =
  | { type: 'text'; text: string }
  | {
      type: 'list';
      body: string;
      /** The button that opens the list (at most 20 characters). */
      button: string;
      /** The one section's title (at most 24 characters). */
      section: string;
      /** 1 to 10 rows. */
      rows: ListRow[];
    }
  | { type: 'buttons'; body: string; buttons: ReplyButton[] }
  | { type: 'cta_url'; body: string; displayText: string; url: string };

export type InteractiveType = Exclude<SessionContent['type'], 'text'>;

/** WhatsApp's limits on interactive messages (Meta's documentation). */
export const INTERACTIVE_LIMITS = {
  listRows: 10,
  rowTitle: 24,
  rowDescription: 72,
  rowId: 200,
  listButton: 20,
  sectionTitle: 24,
  buttons: 3,
  buttonTitle: 20,
  buttonId: 256,
  body: 1_024,
} as const;

/** One rendered FDR template message. */
export interface TemplateSend {
  /** MSISDN with country code, digits only (a leading `+` is tolerated and stripped). */
  to: string;
  /**
   * The outbox row's correlation key, the same on every attempt (Enterprise: `msg_id` and
   * `extra`, echoed in delivery reports; self-serve: not sent for templates).
   */
  correlationKey: string;
  /** The fully rendered text: the Enterprise gateway matches it against the approved template. */
  text: string;
  /** Gupshup's template id: the self-serve API sends it with `params`. */
  templateId: string;
  /** The placeholder values in order ({{1}} first): the self-serve API's `params`. */
  params: string[];
  /**
   * Postbacks for the template's quick-reply buttons, by button index; null leaves a button's
   * own text as what comes back. Only the self-serve API can send them (`postbackTexts`).
   */
  postbacks: Array<string | null>;
}

/** One session message. */
export interface SessionSend {
  /** MSISDN with country code, digits only (a leading `+` is tolerated and stripped). */
  to: string;
  /**
   * The outbox row's correlation key, the same on every attempt (Enterprise: `msg_id` and
   * `extra`; self-serve: the interactive message's `msgid`).
   */
  correlationKey: string;
  content: SessionContent;
}

/**
 * The outcome of one send. `retryable: false` means repeating the same request cannot succeed
 * (bad number, bad credentials, 4xx). `code` is stable (`gupshup_<id>` for an Enterprise error
 * id, `v2_<code>` and `meta_<code>` for a self-serve refusal naming Gupshup's or Meta's code,
 * `http_<status>`, `timeout`, `network`, `unreachable`, `aborted`, `bad_response`,
 * `interactive_unsupported`); what the worker does about it is the provider error table's call
 * (src/gupshup/error-actions.ts), by `code`. `reason` is for humans and never holds a credential
 * or the phone number.
 */
export type SendResult =
  | { ok: true; messageId: string; httpStatus: number }
  | { ok: false; retryable: boolean; code: string; reason: string; httpStatus?: number };

/** The code of a send refused because the account cannot send interactive messages. */
export const INTERACTIVE_UNSUPPORTED = 'interactive_unsupported';

/** Sends through whichever API the account uses. */
export interface GupshupClient {
  sendTemplate(
    account: GupshupAccount,
    msg: TemplateSend,
    signal?: AbortSignal,
  ): Promise<SendResult>;
  /**
   * Sends a session message. Content the account's API cannot send natively must not reach this
   * call (check `supports` first and send the text version instead). An interactive message the
   * account turns out not to accept fails with code `interactive_unsupported`: nothing was sent.
   */
  sendSession(account: GupshupAccount, msg: SessionSend, signal?: AbortSignal): Promise<SendResult>;
  /** Whether the account's API sends this kind of session content natively. */
  supports(account: GupshupAccount, type: SessionContent['type']): boolean;
  /** Waits for requests in flight, then closes the connection pools. */
  close(): Promise<void>;
}
