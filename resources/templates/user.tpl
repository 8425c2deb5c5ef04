% rebase('base.tpl', title='Your page', site_name=site_name)
<h1 id="user-title">Hello, {{session.username}}</h1>
<section class="factor ok">
  <h2>&#10003; Both factors passed</h2>
  <p>You reached the protected page with the certificate <strong>{{identity.common_name}}</strong>
     (what you own) and the password of <strong>{{session.username}}</strong> (what you know).</p>
  <dl>
    <dt>Certificate subject</dt><dd>{{identity.subject}}</dd>
    <dt>Issued by</dt><dd>{{identity.issuer}}</dd>
    <dt>Valid until</dt><dd>{{identity.not_after.strftime('%Y-%m-%d %H:%M UTC')}}</dd>
    <dt>SHA-256 fingerprint</dt><dd class="mono">{{identity.fingerprint_sha256}}</dd>
  </dl>
</section>
<form method="post" action="/logout">
  <input type="hidden" name="csrf" value="{{csrf}}">
  <button type="submit">Log out</button>
</form>
