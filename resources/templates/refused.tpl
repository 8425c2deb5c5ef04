% rebase('base.tpl', title='Refused', site_name=site_name)
<h1>Refused</h1>
<section class="factor bad">
  <h2>&#10007; No verified client certificate</h2>
  <p>This request did not arrive through the site's mutual-TLS entrance, so no certificate was checked.
     Open the site's https:// address, with your bundle imported in the browser.</p>
</section>
