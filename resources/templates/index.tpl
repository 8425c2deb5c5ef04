% rebase('base.tpl', title='Welcome', site_name=site_name)
<h1>Welcome</h1>
<section class="factor ok" id="factor-certificate">
  <h2>&#10003; Factor 1 — your client certificate</h2>
  <p>Your browser presented a certificate that this site's CA signed. The TLS handshake checked it before this page was sent.</p>
  <dl>
    <dt>Subject</dt><dd id="cert-subject">{{identity.subject}}</dd>
    <dt>Issued by</dt><dd id="cert-issuer">{{identity.issuer}}</dd>
    <dt>Valid until</dt><dd id="cert-expiry">{{identity.not_after.strftime('%Y-%m-%d %H:%M UTC')}}</dd>
    <dt>Serial</dt><dd class="mono">{{identity.serial}}</dd>
    <dt>SHA-256 fingerprint</dt><dd class="mono" id="cert-fingerprint">{{identity.fingerprint_sha256}}</dd>
    <dt>Connection</dt><dd>{{identity.protocol}}, {{identity.cipher}}</dd>
  </dl>
</section>
% if session:
<section class="factor ok" id="factor-password">
  <h2>&#10003; Factor 2 — your password</h2>
  <p>You are logged in as <strong>{{session.username}}</strong>. <a href="/user">Open your page</a>.</p>
</section>
% else:
<section class="factor pending" id="factor-password">
  <h2>Factor 2 — your password</h2>
  % if error:
  <p class="error" role="alert" id="login-error">{{error}}</p>
  % end
  <form method="post" action="/login" id="login-form">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label for="username">Username</label>
    <input id="username" name="username" autocomplete="username" required>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit">Log in</button>
  </form>
</section>
% end
