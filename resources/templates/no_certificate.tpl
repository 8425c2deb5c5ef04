% rebase('base.tpl', title='Certificate needed', site_name=site_name)
<h1>Your browser sent no certificate</h1>
<section class="factor bad" id="factor-certificate">
  <h2>&#10007; Factor 1 — your client certificate is missing</h2>
  <p>This site lets in only browsers that present a certificate signed by the class's CA. Yours presented none.</p>
  <ol>
    <li>Import <strong>ca.crt</strong> as a trusted authority (Firefox: Settings → Privacy &amp; Security →
        Certificates → View Certificates → Authorities → Import; Chrome: Settings → Privacy and security → Security →
        Manage certificates).</li>
    <li>Import your <strong>.p12</strong> bundle under <em>Your Certificates</em> with the bundle password from the
        handout.</li>
    <li>Close every window of the browser, open it again, come back here and choose your certificate when asked.</li>
  </ol>
  <p>Still stuck? Run <strong>Test Connection</strong> in mTLS Lab with your bundle: it says which step fails.</p>
</section>
