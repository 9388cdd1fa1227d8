# `make install` / `cmake --install`: Debian's layout, DESTDIR-aware. The module goes to Apache's
# module directory under the prefix (/usr/lib/apache2/modules for the default prefix /usr);
# the a2enmod/a2ensite files go to /etc/apache2 (absolute, where a2enmod looks), with tls.load
# naming the module's installed path.
# Each can be overridden with -D; otherwise it follows the prefix of this configure run.
macro(mod_tls_install_dir var default)
  if(NOT ${var})
    set(${var} "${default}")
  endif()
endmacro()
mod_tls_install_dir(MOD_TLS_MODULE_DIR "${CMAKE_INSTALL_PREFIX}/lib/apache2/modules")
mod_tls_install_dir(MOD_TLS_APACHE_CONFDIR "/etc/apache2")
mod_tls_install_dir(MOD_TLS_DATA_DIR "${CMAKE_INSTALL_PREFIX}/share/mod_tls")
mod_tls_install_dir(MOD_TLS_DOC_DIR "${CMAKE_INSTALL_PREFIX}/share/doc/libapache2-mod-tls")

configure_file(${CMAKE_SOURCE_DIR}/packaging/apache2/tls.load.in
               ${CMAKE_BINARY_DIR}/packaging/tls.load @ONLY)

install(TARGETS mod_tls LIBRARY DESTINATION ${MOD_TLS_MODULE_DIR})
install(FILES ${CMAKE_BINARY_DIR}/packaging/tls.load ${CMAKE_SOURCE_DIR}/packaging/apache2/tls.conf
        DESTINATION ${MOD_TLS_APACHE_CONFDIR}/mods-available)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/apache2/default-tls.conf
        DESTINATION ${MOD_TLS_APACHE_CONFDIR}/sites-available)

# tls-migrate: the script finds its package beside its real path, so /usr/bin holds a symlink.
install(PROGRAMS ${CMAKE_SOURCE_DIR}/tools/tls-migrate DESTINATION ${MOD_TLS_DATA_DIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/tools/tls_migrate DESTINATION ${MOD_TLS_DATA_DIR}
        FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
file(RELATIVE_PATH MOD_TLS_MIGRATE_LINK "${CMAKE_INSTALL_PREFIX}/bin"
     "${MOD_TLS_DATA_DIR}/tls-migrate")
install(CODE "
  file(MAKE_DIRECTORY \"\$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/bin\")
  file(CREATE_LINK \"${MOD_TLS_MIGRATE_LINK}\"
       \"\$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/bin/tls-migrate\" SYMBOLIC)
  message(STATUS \"Installing: \$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/bin/tls-migrate -> ${MOD_TLS_MIGRATE_LINK}\")")
install(FILES ${CMAKE_SOURCE_DIR}/packaging/tls-migrate.1
        DESTINATION ${CMAKE_INSTALL_PREFIX}/share/man/man1)

install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${MOD_TLS_DOC_DIR} FILES_MATCHING PATTERN "*.md")
